"""The image-file datasets on fixtures written in each dataset's real layout."""

import pytest
import torch

from alexnet.data import (
    Caltech101DataModule,
    ImageFolderDataModule,
    ImageNetSubsetDataModule,
    ImagenetteDataModule,
)
from alexnet.data.datasets.imagenet_subset import read_class_list
from alexnet.errors import UserError
from fixtures import (
    CALTECH_CLASSES,
    NO_NETWORK,
    set_environment,
    write_caltech101,
    write_class_tree,
    write_ilsvrc,
    write_imagenette,
)

LOADER = {"image_size": 32, "batch_size": 4, "num_workers": 0}


def paths(dataset) -> set[str]:
    return {path for path, _ in dataset.samples}


def labels(dataset) -> list[int]:
    return [label for _, label in dataset.samples]


def test_caltech101_classes_split_and_rgb(tmp_path):
    root = write_caltech101(tmp_path, per_class=12)
    dm = Caltech101DataModule(root=str(root), num_classes=4, **LOADER)
    dm.setup()
    assert dm.class_names == CALTECH_CLASSES  # BACKGROUND_Google is not a class
    train, val, test = dm.train_set, dm.val_set, dm.test_set
    assert len(train) + len(val) + len(test) == 48
    assert not (paths(train) & paths(val) or paths(train) & paths(test) or paths(val) & paths(test))
    assert sorted(set(labels(test))) == [0, 1, 2, 3]  # stratified: every class tested
    gray = next(
        i
        for i, (p, _) in enumerate(dm.train_set.samples + dm.test_set.samples)
        if p.endswith("accordion/image_0001.jpg")
    )
    dataset = dm.train_set if gray < len(train) else dm.test_set
    image, _ = dataset[gray % len(train) if dataset is dm.train_set else gray - len(train)]
    assert image.shape == (3, 32, 32)  # the grayscale image came out RGB


def test_caltech101_split_is_deterministic(tmp_path):
    root = write_caltech101(tmp_path, per_class=12)
    first, second = (Caltech101DataModule(root=str(root), num_classes=4, **LOADER) for _ in "ab")
    first.setup()
    second.setup()
    assert first.test_set.samples == second.test_set.samples
    assert first.val_set.samples == second.val_set.samples
    other = Caltech101DataModule(root=str(root), num_classes=4, split_seed=1, **LOADER)
    other.setup()
    assert other.test_set.samples != first.test_set.samples


def test_caltech101_standard_protocol(tmp_path):
    root = write_caltech101(tmp_path, per_class=12)
    dm = Caltech101DataModule(
        root=str(root),
        num_classes=4,
        train_per_class=5,
        max_test_per_class=4,
        val_fraction=0.2,
        **LOADER,
    )
    dm.setup()
    train_and_val = labels(dm.train_set) + labels(dm.val_set)
    assert [train_and_val.count(c) for c in range(4)] == [5, 5, 5, 5]
    assert [labels(dm.test_set).count(c) for c in range(4)] == [4, 4, 4, 4]
    assert not paths(dm.test_set) & (paths(dm.train_set) | paths(dm.val_set))


def test_caltech101_accepts_the_bare_folder(tmp_path):
    write_caltech101(tmp_path, per_class=6)
    bare = tmp_path / "caltech101"  # the folder that holds 101_ObjectCategories/
    dm = Caltech101DataModule(
        root=str(bare), num_classes=4, val_fraction=0.2, test_fraction=0.2, **LOADER
    )
    dm.setup()
    assert dm.class_names == CALTECH_CLASSES


def test_caltech101_missing_offline_says_where(tmp_path, monkeypatch):
    set_environment(monkeypatch, NO_NETWORK)
    dm = Caltech101DataModule(root=str(tmp_path), num_classes=101, **LOADER)
    with pytest.raises(UserError, match=r"caltech101/101_ObjectCategories"):
        dm.prepare_data()


def test_imagenette_names_and_splits(tmp_path):
    root = write_imagenette(tmp_path, per_class=6)
    dm = ImagenetteDataModule(
        root=str(root), size="160px", num_classes=10, val_fraction=1 / 6, **LOADER
    )
    dm.setup()
    assert dm.class_names[:3] == ["tench", "English springer", "cassette player"]
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (50, 10, 20)
    assert all("/val/" in p for p in paths(dm.test_set))
    assert dm.train_set[0][0].shape == (3, 32, 32)


def test_imagenet_subset_from_a_class_list(tmp_path):
    wnids = ["n01440764", "n01443537", "n01484850", "n01491361", "n01494475"]
    root = write_ilsvrc(tmp_path / "ilsvrc", wnids, per_class=6)
    class_file = tmp_path / "classes.txt"
    class_file.write_text("# three classes\nn01491361\nn01440764 tench\nn01484850\n")
    dm = ImageNetSubsetDataModule(
        root=str(root),
        class_list=str(class_file),
        num_classes=3,
        max_per_class=4,
        val_fraction=0.25,
        **LOADER,
    )
    dm.setup()
    assert dm.class_names == ["n01440764", "n01484850", "n01491361"]
    assert len(dm.train_set) + len(dm.val_set) == 12  # capped at 4 per class
    assert len(dm.test_set) == 6  # val/ is the test split, not capped
    first_two = ImageNetSubsetDataModule(
        root=str(root), first_n_classes=2, num_classes=2, val_fraction=0.5, **LOADER
    )
    first_two.setup()
    assert first_two.class_names == wnids[:2]


def test_imagenet_subset_names_missing_classes(tmp_path):
    root = write_ilsvrc(tmp_path / "ilsvrc", ["n01440764", "n01443537"], per_class=4)
    dm = ImageNetSubsetDataModule(root=str(root), class_list="imagenet100", num_classes=100)
    with pytest.raises(UserError, match="100 classes of imagenet100 are not in"):
        dm.setup()


def test_bundled_imagenet100_list():
    wnids = read_class_list("imagenet100")
    assert len(wnids) == 100 == len(set(wnids)) and wnids[0] == "n02869837"


def test_image_folder_presplit_tree(tmp_path):
    for split, n in (("train", 5), ("val", 2), ("test", 3)):
        write_class_tree(
            tmp_path / split, ["cat", "dog"], n, seed={"train": 0, "val": 100, "test": 200}[split]
        )
    dm = ImageFolderDataModule(root=str(tmp_path), num_classes=2, **LOADER)
    dm.setup()
    assert dm.class_names == ["cat", "dog"]
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (10, 4, 6)


def test_image_folder_single_tree_split_by_fraction(tmp_path):
    write_class_tree(tmp_path, ["a", "b", "c"], 10)
    dm = ImageFolderDataModule(
        root=str(tmp_path), num_classes=3, val_fraction=0.2, test_fraction=0.2, **LOADER
    )
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (18, 6, 6)
    assert [labels(dm.test_set).count(c) for c in range(3)] == [2, 2, 2]


def test_wrong_class_count_is_a_user_error(tmp_path):
    write_class_tree(tmp_path, ["a", "b", "c"], 10)
    dm = ImageFolderDataModule(root=str(tmp_path), num_classes=5, **LOADER)
    with pytest.raises(UserError, match="set data.num_classes=3"):
        dm.setup()


@pytest.mark.parametrize("preset", ["paper", "modern"])
def test_presets_give_model_sized_batches(tmp_path, preset):
    write_class_tree(tmp_path, ["a", "b"], 6)
    dm = ImageFolderDataModule(
        root=str(tmp_path),
        num_classes=2,
        preset=preset,
        val_fraction=0.25,
        test_fraction=0.25,
        image_size=40,
        batch_size=3,
        num_workers=0,
    )
    dm.setup()
    images, targets = next(iter(dm.train_dataloader()))
    assert images.shape == (3, 3, 40, 40) and images.dtype == torch.float32
    assert targets.tolist() != [] and set(targets.tolist()) <= {0, 1}
