"""Prepared image data: the copy at the paper's resolution, its batches augmented on the
device with the per-image pipeline's pixels and statistics, each process's own shards."""

import io
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import stats
from torchvision.transforms import v2

from alexnet.data import (
    Caltech101DataModule,
    ImageFolderDataModule,
    ImageNetSubsetDataModule,
    ImagenetteDataModule,
)
from alexnet.data.loading.on_device import (
    SquaresPipeline,
    crops_by_gather,
    crops_by_slices,
    random_crop,
    to_device,
)
from alexnet.data.loading.sampling import ShardOrderSampler
from alexnet.data.loading.transforms import PCALighting, eval_transform, train_transform
from alexnet.data.storage.files import load_rgb
from alexnet.data.storage.prepared import MANIFEST, shard_name
from conftest import ROOT, run_script, wait_for_glob
from fixtures import (
    write_caltech101,
    write_class_tree,
    write_ilsvrc,
    write_image,
    write_imagenette,
)

CROP = 32  # a 37-pixel square (32 · 256/224), as 224 is cut from 256


def folder_module(
    root: Path, tmp_path: Path, copy: dict | None = None, **options
) -> ImageFolderDataModule:
    """An image folder read from its prepared copy (``copy``: data.prepared's options)."""
    prepared = {"use": True, "dir": str(tmp_path / "prepared"), "shard_images": 4, **(copy or {})}
    defaults = dict(preset="paper", image_size=CROP, batch_size=8, num_workers=0)
    return ImageFolderDataModule(
        root=str(root), prepared=prepared, cache_dir=str(tmp_path / "cache"), **defaults | options
    )


@pytest.fixture
def photos(tmp_path) -> Path:
    return write_class_tree(tmp_path / "photos", ["cat", "dog"], 20)


def test_prepared_evaluation_batches_equal_the_per_image_pipeline(photos, tmp_path):
    """Centre patch and the ten patches, from the prepared squares, equal what the
    per-image pipeline makes of the same files."""
    for tta in ("center", "ten_crop"):
        datamodule = folder_module(photos, tmp_path, tta=tta)
        datamodule.prepare_data()
        datamodule.setup()
        plain = folder_module(photos, tmp_path, {"use": False}, tta=tta)
        plain.setup()
        transform = eval_transform(plain.preprocessing(), tta)
        images, labels = next(iter(datamodule.test_dataloader()))  # in order, one batch
        samples = plain.test_set.samples
        assert len(samples) == len(images) == 4
        expected = torch.stack([transform(load_rgb(path)) for path, _ in samples])
        torch.testing.assert_close(images, expected, atol=1e-5, rtol=0)
        assert labels.tolist() == [label for _, label in samples]


def test_random_crop_positions_and_flips_are_those_of_the_per_image_pipeline():
    """A square whose pixel (y, x) holds y·64 + x: each crop says where it was taken.
    Both pipelines' offsets are uniform over the 6 × 6 positions (chi-square) and
    flip half the images."""
    side, crop, n = 37, 32, 6000
    coordinates = torch.arange(side)[:, None] * 64 + torch.arange(side)[None, :]
    square = coordinates.expand(n, 1, side, side)
    batch = random_crop(square, crop, torch.Generator().manual_seed(0))
    per_image = v2.Compose([v2.RandomCrop(crop), v2.RandomHorizontalFlip()])
    torch.manual_seed(0)
    single = torch.stack([per_image(square[i]) for i in range(n)])
    for out in (batch, single):
        left, right = out[:, 0, 0, 0], out[:, 0, 0, -1]
        flipped = left > right
        corner = torch.where(flipped, right, left)
        y, x = corner // 64, corner % 64
        counts = torch.bincount(y * 6 + x, minlength=36).numpy()
        assert counts.size == 36
        assert stats.chisquare(counts).pvalue > 1e-3
        assert stats.binomtest(int(flipped.sum()), n).pvalue > 1e-3


def test_crops_by_slices_and_by_gather_are_the_same_crops():
    """The CPU's slices and the GPU's gather (run here on the CPU) cut the same pixels."""
    squares = torch.randint(0, 256, (16, 256, 256, 3), dtype=torch.uint8).permute(0, 3, 1, 2)
    y, x = torch.randint(0, 33, (16,)), torch.randint(0, 33, (16,))
    flip = torch.rand(16) < 0.5
    slices = crops_by_slices(squares, 224, y, x, flip)
    assert torch.equal(slices, crops_by_gather(squares, 224, y, x, flip))
    for i in range(16):
        window = squares[i, :, y[i] : y[i] + 224, x[i] : x[i] + 224]
        assert torch.equal(slices[i], window.flip(-1) if flip[i] else window)


def test_the_lighting_noise_is_that_of_the_per_image_pipeline():
    """The PCA colour offsets of many grey squares: the per-image PCALighting's and the
    batch pipeline's are the same distribution (two-sample KS on each channel)."""
    n = 3000
    grey = torch.full((n, 3, 37, 37), 128, dtype=torch.uint8)
    pipeline = SquaresPipeline("paper", 32, mean=[0, 0, 0], std=[1, 1, 1])
    batch = pipeline(grey, torch.Generator().manual_seed(1))[:, :, 0, 0] - 128 / 255
    torch.manual_seed(1)
    lighting = PCALighting(0.1)
    single = torch.stack([lighting(grey[i].float() / 255)[:, 0, 0] for i in range(n)]) - 128 / 255
    for channel in range(3):
        assert stats.ks_2samp(batch[:, channel], single[:, channel]).pvalue > 1e-3
    assert batch.std(0).max() > 0.01  # the noise is there


def test_a_training_batch_is_a_crop_of_the_per_image_pipelines_square(photos, tmp_path):
    """Without the lighting, each training image is one of the paper's crops (or its
    reflection) of the square the per-image pipeline resizes to."""
    datamodule = folder_module(photos, tmp_path)
    datamodule.setup()
    squares, _ = datamodule.train_set(list(range(8)))
    crops = random_crop(squares, CROP, torch.Generator().manual_seed(3))
    plain = train_transform("paper", CROP).transforms[:2]  # Resize, CenterCrop
    paths = [p for p, _ in folder_module(photos, tmp_path, {"use": False}).checked_splits()[0]]
    for square, crop, path in zip(squares, crops, paths[:8], strict=True):
        expected = v2.PILToTensor()(v2.Compose(plain)(load_rgb(path)))
        assert torch.equal(square, expected)
        windows = [expected[:, y : y + CROP, x : x + CROP] for y in range(6) for x in range(6)]
        assert any(torch.equal(crop, w) or torch.equal(crop, w.flip(-1)) for w in windows)


def test_preparing_resumes_and_a_changed_source_updates_its_one_copy(photos, tmp_path):
    """A preparation stopped part way keeps its finished shards and writes only the
    rest; a source file changed, added or removed since brings the same copy up to date,
    its other shards kept, and reads as the images now are; nothing is written into the
    user's folder."""
    before = sorted(photos.rglob("*"))
    datamodule = folder_module(photos, tmp_path)
    datamodule.prepare_data()
    train = datamodule.prepared_location / "train"
    shards = sorted(train.glob("shard-*.npy"))
    assert len(shards) == 8  # 32 training images, 4 a shard
    (train / MANIFEST).unlink()  # as if killed before its end
    shards[2].unlink()
    stamps = {p: p.stat().st_mtime_ns for p in shards if p.exists()}
    folder_module(photos, tmp_path).prepare_data()
    assert shards[2].exists() and (train / MANIFEST).exists()
    assert all(p.stat().st_mtime_ns == stamp for p, stamp in stamps.items())  # kept
    assert sorted(photos.rglob("*")) == before

    shards = sorted(train.glob("shard-*.npy"))
    changed = sorted(photos.rglob("*.jpg"))[-1]  # the last picture of the last class
    write_image(changed, seed=99)
    write_image(photos / "dog" / "zz_new.jpg", seed=98)
    stamps = {p: p.stat().st_mtime_ns for p in shards}
    updated = folder_module(photos, tmp_path)
    updated.setup()
    assert updated.prepared_location == datamodule.prepared_location  # one copy
    assert [p.name for p in (tmp_path / "prepared").iterdir()] == [train.parent.name]
    kept = [p for p in shards if p.exists() and p.stat().st_mtime_ns == stamps[p]]
    assert 0 < len(kept) < len(shards)  # the shards of the same images, not the others
    fresh = folder_module(photos, tmp_path, {"dir": str(tmp_path / "fresh")})
    fresh.setup()
    for split in ("train", "val", "test"):
        a, b = getattr(updated, f"{split}_set"), getattr(fresh, f"{split}_set")
        assert torch.equal(a(list(range(len(a))))[0], b(list(range(len(b))))[0])


@pytest.mark.parametrize(("sizes", "world_size"), [([4, 4, 4, 2], 2), ([4] * 5 + [1], 3)])
def test_each_process_reads_a_run_of_whole_shards_and_all_get_as_many(sizes, world_size):
    for training in (True, False):
        starts = np.cumsum([0, *sizes])
        samplers = [ShardOrderSampler(sizes, training, 7, r, world_size) for r in range(world_size)]
        for epoch in (0, 1):
            keys = []
            for sampler in samplers:
                sampler.set_epoch(epoch)
                keys.append(sampler.keys())
            assert len({len(k) for k in keys}) == 1  # as many on every process
            real = [i for k in keys for i, _, padded in k if not padded]
            assert sorted(real) == list(range(starts[-1]))  # each image once
            for mine in keys:  # a run of the shuffled shards: few shards each
                shards = {int(np.searchsorted(starts, i, side="right")) - 1 for i, _, _ in mine}
                assert len(shards) <= len(sizes) // world_size + 2
        in_order = [(i, 1, False) for i in range(len(samplers[0]))]
        assert (samplers[0].keys() != in_order) == training  # training: shuffled


def test_a_prepared_copy_on_object_storage_is_fetched_shard_by_shard(photos, tmp_path, s3_bucket):
    """A copy uploaded to an S3-protocol server is read through its URL: a process
    fetches only the shards of its own share, once, into the local cache."""
    datamodule = folder_module(photos, tmp_path)
    datamodule.prepare_data()
    s3_bucket.put(str(datamodule.prepared_location), "bucket/copy", recursive=True)
    remote = folder_module(photos, tmp_path, {"uri": "s3://bucket/copy", "use": False})
    remote.setup()
    assert remote.class_names == ["cat", "dog"] and len(remote.train_set) == 32
    sampler = remote.sampler(remote.train_set, True, 0, rank=1, world_size=2)
    sampler.set_epoch(0)
    wanted = {index // 4 for index, _, _ in sampler.keys()}
    batches = remote.batches(remote.train_set, sampler, True)
    assert sum(len(labels) for _, labels in batches) == len(sampler)
    cache = tmp_path / "cache" / "remote"
    fetched = {int(p.stem.split("-")[1]) for p in cache.rglob(f"{shard_name(0)[:6]}*.npy")}
    assert fetched == wanted and len(fetched) < 8
    assert not list(cache.rglob(".*.partial-*"))


def test_a_copy_prepared_again_at_the_same_url_is_fetched_again(photos, tmp_path, s3_bucket):
    """The cache is keyed by the split's manifest as well as the URL: after the copy at
    a URL is replaced by one of changed images, readers get the new pixels and labels,
    never the old copy's cached shards."""

    def upload_and_read(source: Path) -> tuple[torch.Tensor, torch.Tensor]:
        copies = tmp_path / f"prepared-{source.name}"
        local = folder_module(source, tmp_path, {"dir": str(copies)})
        local.prepare_data()
        if s3_bucket.exists("bucket/copy"):
            s3_bucket.rm("bucket/copy", recursive=True)
        s3_bucket.put(str(local.prepared_location), "bucket/copy", recursive=True)
        remote = folder_module(source, tmp_path, {"uri": "s3://bucket/copy", "use": False})
        remote.setup()
        return remote.train_set(list(range(len(remote.train_set))))

    old_images, _ = upload_and_read(photos)
    changed = write_class_tree(tmp_path / "changed", ["cat", "dog"], 20, seed=1)
    new_images, new_labels = upload_and_read(changed)
    expected = folder_module(changed, tmp_path, {"dir": str(tmp_path / "prepared-changed")})
    expected.setup()
    images, labels = expected.train_set(list(range(len(expected.train_set))))
    assert torch.equal(new_images, images) and torch.equal(new_labels, labels)
    assert not torch.equal(new_images, old_images)


def test_jpeg_shards_hold_the_squares_at_the_stated_quality(photos, tmp_path):
    """JPEG squares decode (in the reader, or on the training device from the files)
    to what PIL makes of the same file, near the raw squares, in less space."""
    raw = folder_module(photos, tmp_path)
    raw.setup()
    jpeg = folder_module(photos, tmp_path, {"jpeg_quality": 90})
    jpeg.setup()
    assert jpeg.prepared_location != raw.prepared_location
    indices = list(range(6))
    decoded, labels = jpeg.train_set(indices)
    squares, raw_labels = raw.train_set(indices)
    assert torch.equal(labels, raw_labels) and decoded.shape == squares.shape
    jpeg.train_set.decode_here = False
    files, _ = jpeg.train_set(indices)
    assert torch.equal(to_device(files, torch.device("cpu")), decoded)
    for file, image in zip(files, decoded, strict=True):
        with Image.open(io.BytesIO(file.numpy().tobytes())) as pil:
            assert pil.format == "JPEG"
            assert torch.equal(v2.PILToTensor()(pil), image)
    assert (decoded.float() - squares.float()).abs().mean() < 12  # q90 on noise images
    size = {
        kind: sum(p.stat().st_size for p in (dm.prepared_location / "train").glob("shard-*"))
        for kind, dm in (("raw", raw), ("jpeg", jpeg))
    }
    assert size["jpeg"] < size["raw"] / 2
    batch, _ = next(iter(jpeg.train_dataloader()))  # training batches from JPEG shards
    assert batch.shape == (8, 3, CROP, CROP) and batch.dtype == torch.float32


@pytest.mark.parametrize("dataset", ["caltech101", "imagenette", "imagenet_subset"])
def test_every_image_dataset_trains_from_its_prepared_copy(dataset, tmp_path):
    """The same splits and classes as from the files, read from the copy."""
    wnids = ["n01440764", "n01443537"]
    make, cls, options = {
        "caltech101": (write_caltech101, Caltech101DataModule, {"download": False}),
        "imagenette": (write_imagenette, ImagenetteDataModule, {"size": "160px"}),
        "imagenet_subset": (
            lambda root: write_ilsvrc(root, wnids),
            ImageNetSubsetDataModule,
            {"class_list": None},
        ),
    }[dataset]
    root = make(tmp_path / "files")
    shared = dict(root=str(root), image_size=CROP, batch_size=4, num_workers=0, **options)
    files = cls(**shared)
    files.setup()
    copy = {"use": True, "dir": str(tmp_path / "prepared")}
    prepared = cls(**shared, prepared=copy, cache_dir=None)
    prepared.prepare_data()
    prepared.setup()
    assert prepared.class_names == files.class_names
    for split in ("train", "val", "test"):
        plain, copy = getattr(files, f"{split}_set"), getattr(prepared, f"{split}_set")
        assert copy.labels.tolist() == [label for _, label in plain.samples]
    images, _ = next(iter(prepared.train_dataloader()))
    assert images.shape == (4, 3, CROP, CROP)


def test_the_training_subset_tested_in_eval_mode_reads_its_own_images(photos, tmp_path):
    """data.train_eval_size on a prepared copy: the fixed subset of training images,
    centre patches, their own labels."""
    datamodule = folder_module(photos, tmp_path, train_eval_size=6)
    datamodule.setup()
    _, subset = datamodule.test_dataloader()
    chosen = datamodule.train_eval_indices()
    labels = torch.cat([y for _, y in subset]).tolist()
    assert labels == [datamodule.train_labels()[i] for i in chosen] and len(chosen) == 6
    images = torch.cat([x for x, _ in subset])
    expected, _ = datamodule.train_set(chosen)
    pipeline = SquaresPipeline("paper", CROP, datamodule.mean, datamodule.std)
    torch.testing.assert_close(images, pipeline(expected, None))


def test_a_prepared_copy_on_a_shared_path_is_read_in_place(photos, tmp_path):
    """data.prepared.uri=<folder>: no source images read, nothing copied."""
    datamodule = folder_module(photos, tmp_path)
    datamodule.prepare_data()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared = datamodule.prepared_location.rename(shared / "copy")
    elsewhere = folder_module(tmp_path / "absent", tmp_path, {"uri": str(shared)})
    elsewhere.setup()
    assert elsewhere.class_names == ["cat", "dog"] and len(elsewhere.train_set) == 32
    assert len(list(iter(elsewhere.train_dataloader()))) == 4
    assert not (tmp_path / "cache" / "remote").exists()


@pytest.mark.slow
def test_prepare_killed_part_way_finishes_to_the_same_copy(tmp_path):
    """prepare.py killed with SIGKILL after its first shards, run again: it keeps them,
    writes the rest, and the copy equals one prepared in one go."""
    write_class_tree(tmp_path / "photos", ["a", "b"], 60)
    options = [
        "data=image_folder",
        "data.root=photos",
        "data.preset=paper",
        "data.prepared.shard_images=2",
        "data.num_workers=1",
    ]
    whole = run_script("prepare.py", *options, "paths.data_dir=whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    command = [sys.executable, str(ROOT / "prepare.py"), *options, "paths.data_dir=killed"]
    killed = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE)
    wait_for_glob(tmp_path / "killed", "prepared/*/train/shard-*.npy", killed, count=3)
    killed.kill()
    killed.wait()
    (train,) = (tmp_path / "killed").glob("prepared/*/train")
    kept = {p.name: p.stat().st_mtime_ns for p in train.glob("shard-*.npy")}
    assert not (train / MANIFEST).exists()  # stopped part way
    # as if killed mid-write too (the copies are compared file by file below)
    (train / f".{shard_name(9)}.partial-{socket.gethostname()}-{killed.pid}").write_bytes(b"x")
    again = run_script("prepare.py", *options, "paths.data_dir=killed", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert all((train / name).stat().st_mtime_ns == stamp for name, stamp in kept.items())
    (first,) = (tmp_path / "whole").glob("prepared/*")
    (second,) = (tmp_path / "killed").glob("prepared/*")
    assert first.name == second.name
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
