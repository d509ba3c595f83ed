"""eval.py's task: a checkpoint on a split, centre or ten-crop, table + metrics.json."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

from alexnet.builder import load_model
from alexnet.data import ImageFolderDataModule
from alexnet.errors import UserError
from alexnet.models.registry import IMAGENET_MEAN, IMAGENET_STD
from alexnet.run.cli import user_error_in
from alexnet.tasks.evaluate import evaluate
from alexnet.tasks.train import train
from conftest import compose_config, run_script, run_task
from fixtures import (
    IMAGENETTE_WNIDS,
    write_caltech101,
    write_class_tree,
    write_ilsvrc,
    write_imagenette,
)

QUIET = [
    "callbacks=none",
    "logger=csv",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "data.num_workers=0",
    "data.batch_size=4",
]


def fixture_overrides(name, root) -> list[str]:
    """Write the fixture of dataset ``name`` under ``root``; the overrides that use it."""
    if name == "caltech101":
        write_caltech101(root, per_class=8)
        return [f"data.root={root}", "data.num_classes=4"]
    if name == "imagenette":
        write_imagenette(root, per_class=4)
        return [f"data.root={root}", "data.size=160px", "data.val_fraction=0.25"]
    if name == "imagenet_subset":
        write_ilsvrc(root, IMAGENETTE_WNIDS[:3], per_class=4)
        return [
            f"data.root={root}",
            "data.class_list=null",
            "data.num_classes=3",
            "data.val_fraction=0.25",
        ]
    write_class_tree(root, ["a", "b", "c"], 5)
    return [
        f"data.root={root}",
        "data.num_classes=3",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
    ]


@pytest.mark.parametrize(
    ("data", "model"),
    [
        ("caltech101", "alexnet_bn"),
        ("imagenette", "alexnet_mini"),
        ("imagenet_subset", "alexnet_mini"),
        ("image_folder", "alexnet_torchvision"),
    ],
)
def test_fast_dev_run_on_each_image_dataset(data, model, tmp_path):
    overrides = fixture_overrides(data, tmp_path / "data")
    cfg = compose_config(
        tmp_path / "run", f"data={data}", f"model={model}", *overrides, "debug=fast_dev_run", *QUIET
    )
    metrics = run_task(train, cfg)
    assert 0.0 <= metrics["test/acc"] <= 1.0


def evaluate_with(tmp_path, ckpt, *overrides) -> dict:
    cfg = compose_config(
        tmp_path,
        f"ckpt_path={ckpt}",
        "trainer.enable_progress_bar=false",
        *overrides,
        config_name="eval",
    )
    return run_task(evaluate, cfg)


def test_eval_writes_metrics_json(trained, tmp_path):
    ckpt, _ = trained
    metrics = evaluate_with(tmp_path, ckpt)  # data: the checkpoint's own
    report = json.loads((tmp_path / "metrics.json").read_text())
    assert report["metrics"] == metrics and report["tta"] == "center"
    assert {"test/acc", "test/acc_top5", "test/loss"} == set(metrics)
    val = evaluate_with(tmp_path, ckpt, "split=val")
    assert {"val/acc", "val/acc_top5", "val/loss"} <= set(val)


def ten_crops_by_hand(path) -> torch.Tensor:
    """The paper's ten 32×32 patches of the central 37×37 square (32·256/224 = 37), written
    with PIL and NumPy alone: the four corners and the centre, and their reflections."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    scale = 37 / min(w, h)
    image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    left, top = round((image.width - 37) / 2), round((image.height - 37) / 2)  # as torchvision
    square = np.asarray(image.crop((left, top, left + 37, top + 37)), dtype=np.float32) / 255
    square = (square - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    corners = [(0, 0), (0, 5), (5, 0), (5, 5), (2, 2)]  # (top, left); the centre: (37-32)//2
    patches = [square[t : t + 32, x : x + 32] for t, x in corners]
    patches += [p[:, ::-1] for p in patches]
    return torch.from_numpy(np.stack(patches).copy()).permute(0, 3, 1, 2)


def test_ten_crop_equals_the_average_of_ten_softmaxes(trained, tmp_path):
    ckpt, overrides = trained
    metrics = evaluate_with(
        tmp_path, ckpt, "data=image_folder", *overrides, "tta=ten_crop", "data.num_workers=0"
    )
    net = load_model(ckpt).net
    root = overrides[0].split("=", 1)[1]
    dm = ImageFolderDataModule(
        root=root, num_classes=3, image_size=32, val_fraction=0.2, test_fraction=0.2
    )
    dm.setup()
    paths = [p for p, _ in dm.test_set.samples]
    labels = dict(torchvision.datasets.ImageFolder(root).samples)  # torchvision's own labels
    with torch.no_grad():
        probs = torch.stack([net(ten_crops_by_hand(p)).softmax(-1).mean(0) for p in paths])
    targets = torch.tensor([labels[p] for p in paths])
    assert metrics["test/loss"] == pytest.approx(F.nll_loss(probs.log(), targets).item(), abs=1e-5)
    assert metrics["test/acc"] == pytest.approx((probs.argmax(-1) == targets).float().mean().item())
    centre = evaluate_with(tmp_path, ckpt, "data=image_folder", *overrides)
    assert centre["test/loss"] != pytest.approx(metrics["test/loss"], abs=1e-6)


def test_ten_crop_on_an_in_memory_dataset_is_a_user_error(trained, tmp_path):
    ckpt, _ = trained
    with pytest.raises(Exception) as raised:  # Hydra wraps what it instantiates
        evaluate_with(tmp_path, ckpt, "data=digits", "tta=ten_crop")
    cause = user_error_in(raised.value)
    assert isinstance(cause, UserError) and "tta=ten_crop needs a dataset read from" in str(cause)


@pytest.mark.parametrize(
    ("ckpt", "message"),
    [("missing.ckpt", "does not exist"), ("notes.txt", "is not a checkpoint file")],
)
def test_bad_checkpoints_exit_2(ckpt, message, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    result = run_script("eval.py", f"ckpt_path={tmp_path / ckpt}", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
