"""The on-device path: batched crop + flip, epochs and DDP shards, same inputs as the
DataLoader path."""

import torch

from alexnet.data import CIFAR10DataModule
from alexnet.data.on_device import DeviceBatches, random_crop_flip
from alexnet.tasks.train import train
from conftest import compose_config


def test_random_crop_flip_gives_crops_of_the_padded_image_and_flips():
    torch.manual_seed(0)
    images = torch.rand(64, 3, 8, 8)
    out = random_crop_flip(images, padding=2)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    flipped = 0
    for image, result in zip(padded, out, strict=True):
        crops = [image[:, y : y + 8, x : x + 8] for y in range(5) for x in range(5)]
        plain = any(torch.equal(result, c) for c in crops)
        mirrored = any(torch.equal(result, c.flip(-1)) for c in crops)
        assert plain or mirrored
        flipped += mirrored and not plain
    assert 15 < flipped < 49  # about half of 64


def test_device_batches_cover_each_image_once_per_epoch_and_shard_for_ddp():
    labels = torch.arange(10)
    images = torch.arange(10).float().view(10, 1, 1, 1)
    batches = DeviceBatches(images, labels, 4, prepare=lambda x: x, shuffle=True, seed=1)
    first = torch.cat([y for _, y in batches])
    second = torch.cat([y for _, y in batches])
    assert sorted(first.tolist()) == list(range(10)) and len(batches) == 3
    assert first.tolist() != second.tolist()  # a new order each epoch
    shards = [
        DeviceBatches(images, labels, 4, prepare=lambda x: x, rank=r, world_size=2) for r in (0, 1)
    ]
    seen = [torch.cat([y for _, y in shard]).tolist() for shard in shards]
    assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == list(range(10))


def test_cifar10_on_device_eval_batches_equal_the_dataloaders(cifar10_root):
    kwargs = dict(
        root=str(cifar10_root),
        num_classes=10,
        image_size=32,
        val_size=20,
        batch_size=20,
        num_workers=0,
    )
    plain, on_device = CIFAR10DataModule(**kwargs), CIFAR10DataModule(**kwargs, on_device=True)
    for dm in (plain, on_device):
        dm.setup()
    (x_plain, y_plain), (x_device, y_device) = (
        next(iter(dm.test_dataloader())) for dm in (plain, on_device)
    )
    assert torch.equal(y_plain, y_device)
    torch.testing.assert_close(x_device, x_plain, atol=1e-5, rtol=0)


def test_training_on_device(tmp_path, cifar10_root):
    cfg = compose_config(
        tmp_path,
        "data=cifar10",
        f"data.root={cifar10_root}",
        "data.val_size=10",
        "data.on_device=true",
        "data.batch_size=8",
        "model=alexnet_mini",
        "debug=fast_dev_run",
        "callbacks=none",
        "logger=csv",
    )
    assert train(cfg)["train/loss"] > 0
