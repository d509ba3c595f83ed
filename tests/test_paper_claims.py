"""The paper-claims study's machinery: its network, the Fashion-MNIST reader on files in
the real IDX format, and the aggregation on run directories written by hand."""

import gzip
import json
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

from alexnet.data import FashionMNISTDataModule
from alexnet.data.fashion_mnist import read_idx
from alexnet.errors import UserError
from alexnet.models import LocalResponseNorm, create_model
from conftest import ROOT, compose_config

sys.path.insert(0, str(ROOT / "experiments" / "paper_claims"))
from aggregate import CLAIMS, aggregate, epochs_to, table  # noqa: E402


def test_the_small_cifar_network_is_cuda_convnets_layout():
    net = create_model("cifar_convnet", num_classes=10)
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (32, (5, 5), (2, 2)),
        (32, (5, 5), (2, 2)),
        (64, (5, 5), (2, 2)),
    ]
    pools = [type(m) for m in net.features if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert pools == [nn.MaxPool2d, nn.AvgPool2d, nn.AvgPool2d]
    assert sum(isinstance(m, LocalResponseNorm) for m in net.features) == 2
    assert net.classifier.in_features == 64 * 4 * 4


@pytest.mark.parametrize("kernel", [2, 3])
def test_overlapping_and_plain_pooling_give_the_same_sizes(kernel):
    net = create_model("cifar_convnet", num_classes=10, pool_kernel=kernel)
    assert net.features(torch.randn(2, 3, 32, 32)).shape == (2, 64, 4, 4)


@pytest.mark.parametrize("name", ["alexnet", "alexnet_mini"])
def test_the_papers_biases_of_one_sit_on_conv2_4_5_and_fc6_7(name):
    """Section 5: the biases of 1 go on the second, fourth and fifth convolutional
    layers and the hidden fully connected layers; ``paper_bias=0`` is the same net with
    every bias 0 (the claim's other arm)."""
    torch.manual_seed(0)
    kwargs = dict(num_classes=10, norm="lrn", init="paper", groups=2)
    ones, zeros = create_model(name, **kwargs), create_model(name, **kwargs, paper_bias=0.0)
    layers = [m for m in ones.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [m.bias.unique().tolist() for m in layers] == [[0.0], [1.0], [0.0], [1.0], [1.0], [1.0], [1.0], [0.0]]
    assert all(m.bias.abs().max() == 0 for m in zeros.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert layers[0].weight.std().item() == pytest.approx(0.01, rel=0.1)


def test_the_small_cifar_networks_paper_init_has_zero_biases():
    net = create_model("cifar_convnet", num_classes=10, init="paper")
    assert all(m.bias.abs().max() == 0 for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    tanh = create_model("cifar_convnet", num_classes=10, activation="tanh", norm="none")
    assert not any(isinstance(m, (nn.ReLU, LocalResponseNorm)) for m in tanh.modules())


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    """LeCun's IDX format: two zero bytes, the type (0x08: unsigned byte), the number of
    dimensions, each dimension as a big-endian int32, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def write_fashion_mnist(root, train: int = 60, test: int = 20) -> None:
    rng = np.random.default_rng(0)
    for prefix, n, compress in (("train", train, True), ("t10k", test, False)):
        write_idx(root / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, compress)


def test_idx_files_are_read_compressed_or_not(tmp_path):
    write_fashion_mnist(tmp_path)
    images = read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    labels = read_idx(tmp_path / "t10k-labels-idx1-ubyte")
    assert images.shape == (60, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [i % 10 for i in range(20)]
    (tmp_path / "cut").write_bytes((tmp_path / "t10k-images-idx3-ubyte").read_bytes()[:100])
    with pytest.raises(UserError, match="holds 84 values"):
        read_idx(tmp_path / "cut")


def test_fashion_mnist_splits_and_sizes(tmp_path):
    write_fashion_mnist(tmp_path)
    dm = FashionMNISTDataModule(
        root=str(tmp_path),
        download=False,
        val_size=10,
        train_size=30,
        image_size=32,
        in_channels=1,
        batch_size=8,
    )
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (30, 10, 20)
    assert dm.class_names[0] == "T-shirt/top" and dm.num_classes == 10
    assert dm.train_set[0][0].shape == (1, 28, 28)  # native; batches are resized
    assert next(iter(dm.train_dataloader()))[0].shape == (8, 1, 32, 32)
    assert dm.preprocessing()["channels"] == 1


def write_run(job, overrides: list[str], test_acc: float, train_acc: list[float]) -> None:
    """A run directory as train.py leaves it: overrides, results.json, the CSV log."""
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / "results.json").write_text(json.dumps({"metrics": {"test/acc": test_acc}}))
    (job / "csv").mkdir()
    rows = ["epoch,step,train/acc,train/loss_epoch,val/acc"]
    rows += [f"{e},{e},{acc},{1 - acc},{acc}" for e, acc in enumerate(train_acc)]
    (job / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")


def test_aggregation_of_a_claim_gives_means_spreads_and_a_verdict(tmp_path):
    sweep = tmp_path / "lrn"
    errors = {"lrn": [0.10, 0.11, 0.12], "none": [0.14, 0.15, 0.16], "bn": [0.09, 0.09, 0.09]}
    job = 0
    for arm, values in errors.items():
        for seed, error in enumerate(values, start=1):
            write_run(sweep / str(job), [f"model.norm={arm}", f"seed={seed}"], 1 - error, [0.5])
            job += 1
    result = aggregate("lrn", CLAIMS["lrn"], sweep, tmp_path)
    assert result["arms"]["LRN"]["mean"] == pytest.approx(0.11)
    assert result["arms"]["LRN"]["std"] == pytest.approx(0.01)
    assert result["arms"]["none"]["seeds"] == 3
    assert result["verdict"] == "reproduced"  # 4 points apart, spreads of 1 point
    assert (tmp_path / "lrn.png").is_file()


def test_dropout_also_gets_the_epochs_to_the_validation_accuracy_all_runs_reach(tmp_path):
    sweep = tmp_path / "dropout"
    curves = {"0.5": [0.5, 0.7, 0.8], "0.0": [0.6, 0.8, 0.85]}  # train = val here
    for job, (rate, curve) in enumerate(curves.items()):
        write_run(sweep / str(job), [f"model.dropout={rate}", "seed=1"], 0.75, curve)
    result = aggregate("dropout", CLAIMS["dropout"], sweep, tmp_path)
    also = result["also"]
    assert also["threshold"] == 0.8  # the lower of the two best val accuracies
    assert also["arms"]["dropout 0.5"]["mean"] == pytest.approx(3.0)
    assert also["arms"]["no dropout"]["mean"] == pytest.approx(2.0)
    assert "Also measured: epochs to 80.0% validation accuracy" in table({"dropout": result})


def test_boolean_arms_as_hydra_writes_them(tmp_path):
    """Hydra writes a swept `true,false` as data.augment=True / False."""
    sweep = tmp_path / "augmentation"
    for job, value in enumerate(["True", "False"]):
        write_run(sweep / str(job), [f"data.augment={value}", "seed=1"], 0.8 - job / 10, [0.9])
    arms = aggregate("augmentation", CLAIMS["augmentation"], sweep, tmp_path)["arms"]
    assert arms["crops + flips"]["mean"] == pytest.approx(0.2)
    assert arms["none"]["mean"] == pytest.approx(0.3)


def test_epochs_to_a_training_error_interpolates_within_an_epoch():
    assert epochs_to([0.5, 0.7, 0.9], target=0.8) == pytest.approx(2.5)
    assert epochs_to([0.9], target=0.8) == pytest.approx(0.8 / 0.9)
    assert math.isinf(epochs_to([0.5, 0.6], target=0.8))


@pytest.mark.parametrize("claim", sorted(CLAIMS))
def test_every_claim_runs_on_cifar10_unchanged(tmp_path, cifar10_root, claim):
    """What the paper measured its CIFAR claims on: each claim's experiment, with
    data=cifar10 and nothing else changed, trains (one batch of each stage)."""
    from alexnet.tasks.train import train

    cfg = compose_config(
        tmp_path / "run",
        f"experiment=claim_{claim}",
        "data=cifar10",
        f"data.root={cifar10_root}",
        "data.val_size=20",  # the fixture holds 100 training images
        "debug=fast_dev_run",
        "trainer.enable_progress_bar=false",
    )
    assert cfg.data._target_.endswith("CIFAR10DataModule")
    assert 0 <= train(cfg)["test/acc"] <= 1


def test_paired_arms_judge_the_per_checkpoint_differences(tmp_path):
    """Ten patches against the centre patch of the same three checkpoints: each gains
    0.3–0.5 points while the checkpoints differ by more, so only pairing sees it."""
    sweep = tmp_path / "ten_crop"
    for job, centre in enumerate([0.80, 0.83, 0.86]):
        for tta, gain in (("center", 0.0), ("ten_crop", 0.003 + job / 1000)):
            run = sweep / str(job) / f"eval_{tta}"
            (run / ".hydra").mkdir(parents=True)
            (run / ".hydra" / "overrides.yaml").write_text(f"- tta={tta}\n")
            metrics = {"metrics": {"test/acc": centre + gain}}
            (run / "metrics.json").write_text(json.dumps(metrics))
    result = aggregate("ten_crop", CLAIMS["ten_crop"], sweep, tmp_path)
    assert result["arms"]["ten patches"]["seeds"] == 3
    assert result["verdict"] == "reproduced"
