"""data.preset=auto: the pipeline from the images' sizes, the training split's statistics."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from alexnet.data import ImageFolderDataModule
from alexnet.data.loading import auto_preset
from alexnet.data.storage.files import load_rgb


def flat_tree(root, sizes: dict[str, tuple[int, int]], values: dict[str, tuple]) -> None:
    """PNGs of one flat colour per class: ``values[class]`` (R, G, B) at ``sizes[class]``,
    four per class in each of train/ and val/."""
    for split in ("train", "val"):
        for name, rgb in values.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(4):
                pixels = np.full((*sizes[name][::-1], 3), rgb, dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")


def setup(root, **kwargs) -> ImageFolderDataModule:
    dm = ImageFolderDataModule(root=str(root), image_size=32, num_workers=0, **kwargs)
    dm.setup()
    return dm


def test_small_images_get_the_small_pipeline_and_their_own_statistics(tmp_path):
    """Two classes of flat 28×28 images, R = 51 and 153 (0.2 and 0.6): the mean of R is
    0.4 and its std 0.2, exactly; G and B likewise with their own values."""
    values = {"dark": (51, 0, 255), "light": (153, 102, 255)}
    flat_tree(tmp_path, {"dark": (28, 28), "light": (28, 28)}, values)
    dm = setup(tmp_path, preset="auto")
    assert dm.preset == "small"
    assert dm.mean == pytest.approx([0.4, 0.2, 1.0], abs=1e-6)
    assert dm.std == pytest.approx([0.2, 0.2, 0.0], abs=1e-5)
    recipe = dm.preprocessing()
    assert recipe["resize"] == recipe["crop"] == 32 and recipe["mean"] == dm.mean
    image, _ = dm.val_set[0]
    assert image.shape == (3, 32, 32)


def test_statistics_are_cached_in_the_cache_dir(tmp_path):
    flat_tree(
        tmp_path / "photos", {"a": (20, 20), "b": (20, 20)}, {"a": (0, 0, 0), "b": (255, 255, 255)}
    )
    first = setup(tmp_path / "photos", preset="auto", cache_dir=str(tmp_path / "cache"))
    (cache,) = (tmp_path / "cache").glob("statistics-*")
    stored = json.loads(cache.read_text())
    stored["mean"] = [0.123, 0.123, 0.123]  # what a second set-up must read back
    cache.write_text(json.dumps(stored))
    again = setup(tmp_path / "photos", preset="auto", cache_dir=str(tmp_path / "cache"))
    assert again.mean == [0.123, 0.123, 0.123]
    assert first.mean == pytest.approx([0.5, 0.5, 0.5])


def test_larger_images_get_the_modern_pipeline(tmp_path):
    flat_tree(
        tmp_path / "big", {"a": (160, 120), "b": (200, 150)}, {"a": (0, 0, 0), "b": (9, 9, 9)}
    )
    assert setup(tmp_path / "big", preset="auto").preset == "modern"


def test_an_explicit_preset_wins_and_keeps_imagenet_statistics(tmp_path):
    flat_tree(tmp_path, {"a": (28, 28), "b": (28, 28)}, {"a": (0, 0, 0), "b": (255, 255, 255)})
    dm = setup(tmp_path, preset="modern")
    assert dm.preset == "modern" and dm.mean == pytest.approx([0.485, 0.456, 0.406])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train", "val"]  # nothing measured


def test_statistics_of_mixed_sizes_match_one_image_at_a_time(tmp_path, monkeypatch):
    """Noise images of three sizes, measured in same-size batches (small batches and a
    small memory budget, so that both flush): the per-image measurement's mean and std,
    and every image counted once."""
    rng = np.random.default_rng(0)
    paths = []
    for i, (width, height) in enumerate([(28, 28), (40, 30), (64, 48)] * 7):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    monkeypatch.setattr(auto_preset, "BATCH", 4)
    batches = list(auto_preset.same_size_batches(paths))
    assert sum(len(batch) for batch in batches) == len(paths)
    assert max(len(batch) for batch in batches) == 4
    monkeypatch.setattr(auto_preset, "BATCH", 100)
    monkeypatch.setattr(auto_preset, "HELD", 3 * 64 * 48 * 3)  # three of the largest
    assert len(list(auto_preset.same_size_batches(paths))) > 3  # more than one per size
    one_at_a_time = v2.Compose(
        [
            v2.Resize(32, antialias=True),
            v2.CenterCrop(32),
            v2.ToImage(),
            v2.ToDtype(torch.float64, scale=True),
        ]
    )
    pixels = torch.cat([one_at_a_time(load_rgb(p)).flatten(1) for p in paths], dim=1)
    measured = auto_preset.measure(paths, 32)
    assert measured.mean == pytest.approx(pixels.mean(1).tolist(), abs=2e-3)
    assert measured.std == pytest.approx(pixels.std(1, unbiased=False).tolist(), abs=2e-3)
