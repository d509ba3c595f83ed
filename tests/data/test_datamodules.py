import pytest
import torch

from alexnet.data import CIFAR10DataModule, DigitsDataModule
from alexnet.data.loading.splits import stratified_split
from alexnet.errors import UserError
from fixtures import CIFAR_CLASSES, NO_NETWORK, set_environment


def labels_of(dataset) -> list[int]:
    return [int(dataset[i][1]) for i in range(len(dataset))]


def test_digits_split_is_stratified_disjoint_and_fixed():
    dm = DigitsDataModule(num_classes=10, in_channels=1, image_size=32)
    dm.setup()
    sizes = [len(s) for s in (dm.train_set, dm.val_set, dm.test_set)]
    assert sum(sizes) == 1797 and sizes[2] == pytest.approx(0.15 * 1797, abs=2)
    stored = dm.test_set.tensors[0]
    assert stored.shape[1:] == (1, 8, 8) and stored.dtype == torch.uint8  # native, not 32 px
    images, _ = next(iter(dm.test_dataloader()))
    assert images.shape[1:] == (1, 32, 32) and images.dtype == torch.float32
    test_counts = torch.bincount(dm.test_set.tensors[1], minlength=10)
    assert test_counts.min() >= 26 and test_counts.max() <= 28  # ~15% of each class
    again = DigitsDataModule(num_classes=10, in_channels=1, image_size=32)
    again.setup()
    assert torch.equal(again.test_set.tensors[0], dm.test_set.tensors[0])
    assert dm.class_names == [str(d) for d in range(10)]


def test_stratified_split_is_disjoint_and_complete():
    labels = [i % 4 for i in range(200)]
    train, val, test = stratified_split(labels, 0.2, 0.1, seed=3)
    assert set(train).isdisjoint(val) and set(train).isdisjoint(test) and set(val).isdisjoint(test)
    assert sorted(train + val + test) == list(range(200))
    assert [sum(labels[i] == c for i in test) for c in range(4)] == [5, 5, 5, 5]
    assert stratified_split(labels, 0.2, 0.1, seed=3) == (train, val, test)
    assert stratified_split(labels, 0.2, 0.1, seed=4) != (train, val, test)


def test_wrong_num_classes_is_a_user_error():
    dm = DigitsDataModule(num_classes=7, in_channels=1, image_size=32)
    with pytest.raises(UserError, match="data.num_classes=10"):
        dm.setup()


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"batch_size": -4}, {"num_workers": -1}])
def test_bad_loader_options_are_user_errors(kwargs):
    with pytest.raises(UserError):
        DigitsDataModule(num_classes=10, **kwargs)


def test_cifar10_reads_the_pickled_batches(cifar10_root):
    dm = CIFAR10DataModule(
        root=str(cifar10_root),
        num_classes=10,
        image_size=32,
        val_size=20,
        batch_size=8,
        num_workers=0,
    )
    dm.prepare_data()
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (80, 20, 20)
    assert dm.class_names == CIFAR_CLASSES
    train, val = (
        {image.numpy().tobytes() for image in s.tensors[0]} for s in (dm.train_set, dm.val_set)
    )
    assert len(train) == 80 and len(val) == 20 and not train & val  # noise: all distinct
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.long
    # normalised with the training split's own statistics: zero-mean, unit-std
    assert abs(images.mean().item()) < 0.2 and 0.8 < images.std().item() < 1.2


def test_cifar10_resizes_to_the_model_input(cifar10_root):
    dm = CIFAR10DataModule(root=str(cifar10_root), num_classes=10, image_size=64, val_size=10)
    dm.setup()
    for loader in (dm.train_dataloader(), dm.val_dataloader()):
        assert next(iter(loader))[0].shape[1:] == (3, 64, 64)


def test_cifar10_augmentation_and_pca_colour_noise_are_knobs(cifar10_root):
    """augment=false: a training batch is the evaluation batch of the same images;
    pca_lighting: one colour offset per image, the same at every pixel, on top of that."""
    kwargs = dict(root=str(cifar10_root), image_size=32, val_size=10, augment=False)
    plain, noisy = CIFAR10DataModule(**kwargs), CIFAR10DataModule(**kwargs, pca_lighting=0.1)
    raw = None
    for dm in (plain, noisy):
        dm.setup()
        raw = dm.train_set.tensors[0][:8]
    generator = torch.Generator().manual_seed(0)
    image = plain.pipeline(raw, None)
    assert torch.equal(plain.pipeline(raw, generator), image)  # no randomness left
    offset = (noisy.pipeline(raw, generator) - image).flatten(2)
    assert offset.abs().max() > 1e-3  # a colour shift happened
    assert torch.allclose(offset, offset[:, :, :1].expand_as(offset), atol=1e-4)


def test_grey_images_refuse_pca_lighting():
    with pytest.raises(UserError, match="colour images"):
        DigitsDataModule(image_size=32, pca_lighting=0.1).setup()


def test_cifar10_missing_offline_says_where_to_put_it(tmp_path, monkeypatch):
    set_environment(monkeypatch, NO_NETWORK)
    dm = CIFAR10DataModule(root=str(tmp_path / "nowhere"), num_classes=10)
    with pytest.raises(UserError, match=r"cifar-10-python.tar.gz.*cifar-10-batches-py"):
        dm.prepare_data()
    with pytest.raises(UserError, match="CIFAR-10 is not in"):
        dm.setup()
