"""The on-device path: batched crop + flip, epochs and DDP shards, same inputs as the
DataLoader path."""

import lightning as L
import pytest
import torch

from alexnet.data import CIFAR10DataModule
from alexnet.data.loading.on_device import DeviceBatches, TensorReader, random_crop_flip
from alexnet.data.loading.sampling import IGNORE, ShardSampler
from alexnet.tasks.train import train
from conftest import compose_config, run_task


def test_random_crop_flip_gives_crops_of_the_edge_extended_image_and_flips():
    torch.manual_seed(0)
    images = torch.rand(64, 3, 8, 8)
    out = random_crop_flip(images, padding=2)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    flipped = 0
    for image, result in zip(padded, out, strict=True):
        crops = [image[:, y : y + 8, x : x + 8] for y in range(5) for x in range(5)]
        plain = any(torch.equal(result, c) for c in crops)
        mirrored = any(torch.equal(result, c.flip(-1)) for c in crops)
        assert plain or mirrored
        flipped += mirrored and not plain
    assert 15 < flipped < 49  # about half of 64


def test_random_crops_add_no_frame():
    """An image of one value stays one value: the crop's margin repeats the image's own
    edge (zero padding made a frame of 0, which after normalisation is a grey frame on
    a dark image)."""
    images = torch.full((256, 1, 8, 8), 200, dtype=torch.uint8)
    assert (random_crop_flip(images, padding=2) == 200).all()


def test_crop_offsets_and_flips_are_uniform():
    """Each of the 2·padding + 1 offsets and both flips about equally often: the
    per-image pipeline's RandomCrop + RandomHorizontalFlip statistics."""
    images = torch.arange(8).view(1, 1, 1, 8).expand(20000, 1, 1, 8).contiguous()
    out = random_crop_flip(images, padding=2, generator=torch.Generator().manual_seed(0))
    first, last = out[:, 0, 0, 0], out[:, 0, 0, -1]
    flipped = first > last
    shift = torch.where(flipped, 7 - first, first)  # the crop's first column, 0 = shift ≤ 0
    counts = torch.bincount(shift, minlength=3)[:3].float() / len(out)
    # offsets −2, −1, 0 all start at column 0 (edge copies); 1 and 2 start at 1 and 2
    assert torch.allclose(counts, torch.tensor([3 / 5, 1 / 5, 1 / 5]), atol=0.015)
    assert abs(flipped.float().mean().item() - 0.5) < 0.015


def epochs(batches: DeviceBatches, count: int) -> list[list[int]]:
    """The labels of ``count`` epochs, Lightning's way (set_epoch before each)."""
    seen = []
    for epoch in range(count):
        batches.sampler.set_epoch(epoch)
        seen.append(torch.cat([y for _, y in batches]).tolist())
    return seen


def test_device_batches_cover_each_image_once_per_epoch():
    labels = torch.arange(10)
    images = torch.arange(10).float().view(10, 1, 1, 1)
    sampler = ShardSampler(10, True, seed=1)
    batches = DeviceBatches(TensorReader(images, labels), 4, sampler, lambda x, g: x, training=True)
    first, second = epochs(batches, 2)
    assert sorted(first) == list(range(10)) and len(batches) == 3
    assert first != second  # a new order each epoch


@pytest.mark.parametrize(("size", "batch_size"), [(1257, 4), (10, 4), (9, 3), (7, 8), (5, 2)])
@pytest.mark.parametrize("world_size", [2, 3])
def test_every_ddp_process_gets_as_many_batches_and_eval_counts_images_once(
    size, batch_size, world_size
):
    """The hang of issue 10: digits' 1,257 training images on 2 processes with batch 4
    gave 158 and 157 batches. Training pads by repeating (DistributedSampler's way);
    evaluation labels the padding IGNORE so that each image is counted once."""
    images, labels = torch.zeros(size, 1, 1, 1), torch.arange(size)
    for training in (True, False):
        shards = [
            DeviceBatches(
                TensorReader(images, labels),
                batch_size,
                ShardSampler(size, training, 0, rank, world_size),
                lambda x, g: x,
                training=training,
            )
            for rank in range(world_size)
        ]
        counts = {len(list(shard)) for shard in shards}
        assert counts == {len(shards[0])}  # the same number of batches everywhere
        seen = [y for shard in shards for _, batch in shard for y in batch.tolist()]
        if training:
            assert set(seen) == set(range(size))
        else:
            counted = [y for y in seen if y != IGNORE]
            assert sorted(counted) == list(range(size))


def test_cifar10_batches_on_device_equal_those_from_host_memory(cifar10_root):
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
    for split in ("train", "test"):  # augmented and not
        (x_plain, y_plain), (x_device, y_device) = (
            next(iter(dm._split_loader(split))) for dm in (plain, on_device)
        )
        assert torch.equal(y_plain, y_device)
        torch.testing.assert_close(x_device, x_plain, atol=1e-5, rtol=0)


class LoaderKind(L.Callback):
    """Notes the kind of loader each stage of a run used."""

    seen: dict[str, str] = {}

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        LoaderKind.seen["train"] = type(trainer.train_dataloader).__name__

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        LoaderKind.seen["test"] = type(trainer.test_dataloaders).__name__


def test_training_on_device_uses_device_batches(tmp_path, cifar10_root):
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
        "+callbacks.kind._target_=test_on_device.LoaderKind",
        "logger=csv",
    )
    LoaderKind.seen = {}
    assert run_task(train, cfg)["train/loss_epoch"] > 0
    assert LoaderKind.seen == {"train": "DeviceBatches", "test": "DeviceBatches"}
