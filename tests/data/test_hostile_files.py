"""Files that would crash or fool a loader: decompression bombs, file names that are not
UTF-8, statistics caches that are stale or corrupt (issue 25)."""

import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from alexnet.data import ImageFolderDataModule
from alexnet.data.storage.files import MAX_PIXELS, load_rgb, read_headers, scan_class_folders
from alexnet.data.storage.header_cache import cached_headers
from alexnet.errors import UserError
from fixtures import write_class_tree

INVALID_UTF8 = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes, as old cameras and zips write


def write_bomb(path, side: int = 30000) -> None:
    """A PNG of a few bytes that declares ``side``×``side`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def folder(root, **kwargs) -> ImageFolderDataModule:
    kwargs = {"val_fraction": 0.3, "test_fraction": 0.3, **kwargs}
    dm = ImageFolderDataModule(root=str(root), image_size=32, num_workers=0, **kwargs)
    dm.setup()
    return dm


def test_a_decompression_bomb_is_skipped_and_counted(tmp_path):
    write_class_tree(tmp_path / "photos", ["a", "b"], 8)
    write_bomb(tmp_path / "photos" / "a" / "bomb.png")
    dm = folder(tmp_path / "photos", preset="auto", cache_dir=str(tmp_path / "cache"))
    assert dm.found.skipped == [str(tmp_path / "photos" / "a" / "bomb.png")]
    assert "too large" in dm.found.summary()


def test_the_pixel_limit_is_a_setting(tmp_path):
    """48×40 images (1,920 pixels) pass a limit of 1,920 and are skipped under 1,919;
    with check_files=false the loader refuses one in a line naming the setting."""
    write_class_tree(tmp_path / "photos", ["a", "b"], 8)
    assert folder(tmp_path / "photos", max_image_pixels=1920).found.skipped == []
    with pytest.raises(UserError, match="has no readable images"):
        folder(tmp_path / "photos", max_image_pixels=1919)
    image = tmp_path / "photos" / "a" / "img_0001.jpg"
    with pytest.raises(UserError, match=r"more than data.max_image_pixels=1919"):
        load_rgb(str(image), max_pixels=1919)


def test_a_file_name_that_is_not_utf8_is_used_and_listed_escaped(tmp_path):
    write_class_tree(tmp_path / "photos", ["a", "b"], 8)
    Image.new("RGB", (40, 40), (9, 9, 9)).save(tmp_path / "photos" / "a" / INVALID_UTF8)
    (tmp_path / "photos" / "b" / os.fsdecode(b"bad\xff.jpg")).write_bytes(b"")  # skipped
    dm = folder(tmp_path / "photos", preset="auto", cache_dir=str(tmp_path / "cache"))
    assert any(path.endswith(INVALID_UTF8) for path, _ in dm.found.samples)
    assert dm.found.listing().strip().endswith("bad\\xff.jpg")
    assert dm.found.listing().encode()  # writable as UTF-8


def flat_folder(root, rgb) -> None:
    """Two classes of eight flat 20×20 PNGs, class "a" of colour ``rgb``, "b" black."""
    for name, colour in (("a", rgb), ("b", (0, 0, 0))):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(8):
            Image.fromarray(np.full((20, 20, 3), colour, dtype=np.uint8)).save(
                root / name / f"{i}.png"
            )


def test_statistics_are_measured_again_when_the_images_change(tmp_path):
    """The images rewritten under the same names (same sizes on disk, new times) give
    new statistics; the cache lives in cache_dir, the user's folder gains nothing."""
    photos, cache = tmp_path / "photos", tmp_path / "data" / "cache"
    flat_folder(photos, (200, 100, 50))
    before = sorted(photos.rglob("*"))
    first = folder(photos, preset="auto", cache_dir=str(cache))
    assert first.mean == pytest.approx([100 / 255 / 1, 50 / 255, 25 / 255], abs=1e-5)
    assert sorted(photos.rglob("*")) == before and len(list(cache.glob("statistics-*"))) == 1
    flat_folder(photos, (100, 200, 50))
    for path in photos.rglob("*.png"):  # a second later, whatever the file system's clock
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    second = folder(photos, preset="auto", cache_dir=str(cache))
    assert second.mean == pytest.approx([50 / 255, 100 / 255, 25 / 255], abs=1e-5)


@pytest.mark.parametrize("content", ["[]", "{", '{"mean": [1, 2], "std": [1, 1, 1], "images": 9}'])
def test_a_corrupt_cache_is_measured_again_with_one_warning(content, tmp_path, capsys):
    photos, cache = tmp_path / "photos", tmp_path / "cache"
    flat_folder(photos, (200, 100, 50))
    folder(photos, preset="auto", cache_dir=str(cache))
    (written,) = cache.glob("statistics-*")
    written.write_text(content)
    capsys.readouterr()
    dm = folder(photos, preset="auto", cache_dir=str(cache))
    assert dm.mean == pytest.approx([100 / 255, 50 / 255, 25 / 255], abs=1e-5)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and f"ignoring the statistics cache {written}" in warnings[0]
    assert json.loads(written.read_text())["images"] == 6  # rewritten whole


def test_a_second_scan_reads_only_the_headers_of_files_that_changed(tmp_path):
    """The headers read are cached beside the statistics: a scan of the same folder
    reads none again, and a file that changed (size or time) is read again."""
    photos, cache = write_class_tree(tmp_path / "photos", ["a", "b"], 4), tmp_path / "cache"
    read: list[int] = []

    def counted(paths):
        read.append(len(paths))
        return read_headers(paths)

    headers = cached_headers(counted, cache, MAX_PIXELS)
    first = scan_class_folders(photos, ["a", "b"], headers=headers)
    second = scan_class_folders(photos, ["a", "b"], headers=headers)
    assert read == [8, 0] and second.sizes == first.sizes and second.samples == first.samples
    changed = photos / "a" / "img_0002.jpg"
    changed.write_bytes(b"not an image any more")
    third = scan_class_folders(photos, ["a", "b"], headers=headers)
    assert read[-1] == 1 and third.skipped == [str(changed)]
    assert list(photos.rglob("*.json")) == []  # the cache is in cache_dir


def test_a_folder_datamodule_caches_its_headers_in_its_cache_dir(tmp_path):
    photos, cache = write_class_tree(tmp_path / "photos", ["a", "b"], 8), tmp_path / "cache"
    folder(photos, cache_dir=str(cache))
    (headers,) = cache.glob("headers-*.json")
    assert len(json.loads(headers.read_text())) == 16


def test_importing_the_package_leaves_pil_as_it_was():
    """PIL's process-wide settings change where the project opens an image, not when a
    program that uses it imports it."""
    check = (
        "import alexnet.data, alexnet.tasks.train\n"
        "from PIL import Image, ImageFile\n"
        "assert not ImageFile.LOAD_TRUNCATED_IMAGES, 'LOAD_TRUNCATED_IMAGES'\n"
        "assert Image.MAX_IMAGE_PIXELS == 89_478_485, Image.MAX_IMAGE_PIXELS\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
