"""Odd and broken image files: converted and used, skipped and listed, or one clear line."""

import numpy as np
import pytest
from PIL import Image

from alexnet.data import ImageFolderDataModule
from alexnet.data.storage.files import load_rgb
from alexnet.errors import UserError
from alexnet.tasks.train import train
from conftest import compose_config, error_line, run_script, run_task
from fixtures import write_class_tree, write_image

ODD_MODES = {
    "gray.png": "L",
    "cmyk.jpg": "CMYK",
    "rgba.png": "RGBA",
    "palette.png": "P",
    "palette.gif": "P",
    "sixteen_bit.png": "I;16",
    "bilevel.bmp": "1",
}


def odd_tree(root):
    """Two classes of good JPEGs, plus one file of every odd mode in class "a"."""
    write_class_tree(root, ["a", "b"], 6)
    for name, mode in ODD_MODES.items():
        write_image(root / "a" / name, mode=mode)
    return root


def broken_tree(root):
    """Good JPEGs plus a truncated JPEG, a zero-byte file, random bytes named .jpg and a
    text file in the class folders."""
    write_class_tree(root, ["a", "b"], 6)
    whole = write_image(root / "a" / "truncated.jpg", size=(120, 90)).read_bytes()
    (root / "a" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (root / "a" / "empty.jpg").write_bytes(b"")
    (root / "b" / "garbage.jpg").write_bytes(bytes(range(256)) * 4)
    (root / "b" / "notes.txt").write_text("not an image")
    return root


@pytest.mark.parametrize("name", ODD_MODES)
def test_every_mode_loads_as_rgb(name, tmp_path):
    path = write_image(tmp_path / name, mode=ODD_MODES[name])
    assert Image.open(path).mode != "RGB"
    image = load_rgb(str(path))
    assert image.mode == "RGB" and image.size == (48, 40)


def test_transparent_pixels_are_composited_over_white(tmp_path):
    """LA (grey + alpha): a transparent pixel becomes white, an opaque one keeps its grey,
    a half-transparent one lies between."""
    pixels = np.zeros((2, 3, 2), dtype=np.uint8)
    pixels[..., 0] = 40  # dark grey everywhere
    pixels[0, :, 1] = [0, 255, 128]  # alpha: transparent, opaque, half
    Image.fromarray(pixels, mode="LA").save(tmp_path / "la.png")
    rgb = np.asarray(load_rgb(str(tmp_path / "la.png")))
    assert (rgb[0, 0] == 255).all() and (rgb[0, 1] == 40).all()
    assert 140 < rgb[0, 2, 0] < 155  # 40 · 128/255 + 255 · 127/255 ≈ 147


def test_odd_modes_are_used_in_training(tmp_path):
    dm = ImageFolderDataModule(
        root=str(odd_tree(tmp_path)),
        num_classes=2,
        image_size=32,
        val_fraction=0.2,
        test_fraction=0.2,
        num_workers=0,
    )
    dm.setup()
    used = {
        p.rsplit("/", 1)[1] for ds in (dm.train_set, dm.val_set, dm.test_set) for p, _ in ds.samples
    }
    assert set(ODD_MODES) <= used and not dm.found.skipped
    for ds in (dm.train_set, dm.val_set, dm.test_set):
        for i in range(len(ds)):
            assert ds[i][0].shape == (3, 32, 32)


def test_truncated_is_used_and_unreadable_are_skipped_and_listed(tmp_path, capfd):
    root = broken_tree(tmp_path / "data")
    run_dir = tmp_path / "run"
    cfg = compose_config(
        run_dir,
        "data=image_folder",
        f"data.root={root}",
        "data.num_classes=2",
        "data.num_workers=0",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "model=alexnet_mini",
        "debug=fast_dev_run",
        "callbacks=none",
        "logger=csv",
    )
    run_task(train, cfg)
    skipped = "warning: skipped 2 unreadable image files (empty, corrupt or too large)"
    assert skipped in capfd.readouterr().err
    listed = [
        line.split("\t")[1]
        for line in (run_dir / "skipped_images.txt").read_text().split("\n")
        if line.startswith("unreadable")
    ]
    assert sorted(p.rsplit("/", 1)[1] for p in listed) == ["empty.jpg", "garbage.jpg"]
    assert load_rgb(str(root / "a" / "truncated.jpg")).size == (120, 90)


def test_an_image_unreadable_at_load_time_names_the_file(tmp_path):
    """With check_files=false, or a file changed since the scan."""
    path = write_image(tmp_path / "changed.jpg")
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(300))
    with pytest.raises(UserError, match=r"cannot decode image .*changed.jpg.*delete or replace"):
        load_rgb(str(path))
    path.unlink()
    with pytest.raises(UserError, match=r"changed.jpg"):
        load_rgb(str(path))


@pytest.mark.slow
def test_decode_failure_in_a_worker_is_one_line_and_exit_2(tmp_path):
    root = write_class_tree(tmp_path / "data", ["a", "b"], 4)
    bad = root / "a" / "img_0001.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + bytes(300))  # a JPEG start, then nothing
    result = run_script(
        "train.py",
        "data=image_folder",
        f"data.root={root}",
        "data.num_classes=2",
        "data.check_files=false",
        "data.num_workers=2",
        "data.batch_size=8",
        "data.val_fraction=0.25",
        "data.test_fraction=0.25",
        "model=alexnet_mini",
        "debug=fast_dev_run",
        "logger=csv",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    line = error_line(result)
    assert "img_0001.jpg" in line and "Traceback" not in line


def test_an_empty_class_folder_is_an_error(tmp_path):
    write_class_tree(tmp_path, ["a", "b"], 4)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "readme.txt").write_text("nothing here")
    dm = ImageFolderDataModule(root=str(tmp_path), num_classes=3)
    with pytest.raises(UserError, match=r"class folder .*/c has no images"):
        dm.setup()


def test_a_split_with_no_images_is_an_error(tmp_path):
    write_class_tree(tmp_path, ["a", "b"], 4)
    dm = ImageFolderDataModule(
        root=str(tmp_path), num_classes=2, val_fraction=0.0, test_fraction=0.5
    )
    with pytest.raises(UserError, match="the val split .* has no images"):
        dm.setup()
