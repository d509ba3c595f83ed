"""A user's own folder, as users have them: the folders decide the classes, and what is
not an image is said in one line."""

import os

import pytest
import torch

from conftest import error_line, run_script
from fixtures import write_caltech101, write_class_tree, write_image


def messy_tree(root):
    """Three classes of real images with what real folders also hold."""
    write_class_tree(root, ["cat", "dog"], 6)
    write_image(root / "cat" / "holiday" / "2023" / "IMG_0001.JPG")  # nested, upper case
    write_image(root / "dog" / "IMG_0002.PNG")
    write_class_tree(root, ["newt"], 1)  # a tiny class: one image
    (root / "cat" / "purr.wav").write_bytes(b"RIFF....WAVEfmt ")
    (root / "cat" / "notes.txt").write_text("my cat")
    (root / "dog" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (root / "dog" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "dog" / "._img_0001.jpg").write_bytes(b"\0\5\26\7")  # macOS AppleDouble
    (root / ".thumbnails").mkdir()
    write_image(root / ".thumbnails" / "t.jpg")  # a hidden folder is not a class
    os.symlink(root / "cat" / "img_0001.jpg", root / "dog" / "linked.jpg")
    os.symlink(root / "nowhere.jpg", root / "dog" / "dangling.jpg")
    return root


@pytest.mark.slow
def test_an_image_folder_runs_with_nothing_but_its_root(tmp_path):
    root = messy_tree(tmp_path / "photos")
    result = run_script(
        "train.py", "data=image_folder", f"data.root={root}", "debug=fast_dev_run", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    said = [line for line in result.stderr.splitlines() if line.startswith("warning: ignored")]
    assert len(said) == 1, result.stderr[-3000:]
    for part in (
        "ignored 6 files",
        "1 audio",
        "1 text and documents",
        "1 SVG",
        "2 hidden",
        "1 broken links",
    ):
        assert part in said[0], said[0]
    assert "1 classes have too few images to hold any out (newt)" in result.stderr
    (run_dir,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    listing = (run_dir / "skipped_images.txt").read_text()
    assert "SVG (vector drawings need a rasteriser)\t" in listing and "logo.svg" in listing


@pytest.mark.slow
def test_the_folders_decide_the_class_count_and_a_wrong_one_is_one_line(tmp_path):
    root = messy_tree(tmp_path / "photos")
    result = run_script(
        "train.py",
        "data=image_folder",
        f"data.root={root}",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "test=false",
        "logger=csv",
        "hydra.run.dir=run",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)[
        "alexnet"
    ]
    assert record["class_names"] == ["cat", "dog", "newt"]
    assert record["model"]["kwargs"]["num_classes"] == 3
    wrong = run_script(
        "train.py", "data=image_folder", f"data.root={root}", "data.num_classes=5", cwd=tmp_path
    )
    assert wrong.returncode == 2
    assert "data.num_classes=5 but the dataset has 3 classes" in error_line(wrong)


@pytest.mark.slow
def test_a_caltech_tree_with_fewer_classes_needs_no_count(tmp_path):
    root = write_caltech101(tmp_path / "data", per_class=6)
    result = run_script(
        "train.py",
        "data=caltech101",
        f"data.root={root}",
        "model=alexnet_mini",
        "debug=fast_dev_run",
        "data.num_workers=0",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
