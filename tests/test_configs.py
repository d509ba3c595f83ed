"""Every option of every config group composes into a config that resolves."""

import pytest

from alexnet.arguments import checked_arguments
from alexnet.builder import with_classes
from alexnet.data import dataset_class
from alexnet.models import model_arguments
from alexnet.run.cli import spec_of
from alexnet.spec import Part, checkpoint_data
from alexnet.tasks.evaluate import evaluate
from alexnet.tasks.train import train
from conftest import CONFIG_DIR, compose_config

GROUPS = sorted(p.name for p in CONFIG_DIR.iterdir() if p.is_dir() and p.name != "hydra")
OPTIONS = [
    (group, path.stem) for group in GROUPS for path in sorted((CONFIG_DIR / group).glob("*.yaml"))
]


def test_every_group_has_options():
    assert {
        "model",
        "data",
        "optimizer",
        "scheduler",
        "trainer",
        "logger",
        "callbacks",
        "paths",
        "debug",
        "experiment",
    } <= set(GROUPS)


# Values a user must give for some options (`???` in the file).
REQUIRED = {
    ("data", "image_folder"): ["data.root=/some/folder"],
    ("experiment", "claim_ten_crop"): ["data.root=/some/folder"],  # an image folder of yours
}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_resolves_and_fits_its_constructors(group, option, tmp_path):
    """Every option resolves, and the model and dataset it leads to accept every key the
    config gives them (a key renamed in the code but not in a YAML file fails here)."""
    cfg = compose_config(tmp_path, f"{group}={option}", *REQUIRED.get((group, option), []))
    parts = with_classes(spec_of(train, cfg).parts(), 7)  # the count the data would settle
    model_arguments(parts.model.name, parts.model.kwargs)
    checked_arguments(dataset_class(parts.data.name), parts.data.kwargs, "data")
    assert parts.data.kwargs["image_size"] == parts.model.input_size
    assert parts.model.kwargs["in_channels"] == parts.data.kwargs["in_channels"]


def test_default_is_mini_on_digits(tmp_path):
    cfg = compose_config(tmp_path)
    assert cfg.model.name == "alexnet_mini" and cfg.data.name == "digits"
    assert set(cfg.logger) == {"csv", "wandb"}
    assert {"model_checkpoint", "lr_monitor", "progress_bar", "model_summary"} <= set(cfg.callbacks)


@pytest.mark.parametrize("data", [p.stem for p in sorted((CONFIG_DIR / "data").glob("*.yaml"))])
def test_eval_config_composes_with_every_dataset(data, tmp_path):
    """eval.py data=<any>: the dataset at the checkpoint's input size, its own classes."""
    overrides = [f"data={data}", "ckpt_path=x.ckpt"]
    cfg = compose_config(
        tmp_path, *overrides, *REQUIRED.get(("data", data), []), config_name="eval"
    )
    model = Part(name="alexnet_mini", kwargs={"input_size": 40, "num_classes": 3})
    spec = spec_of(evaluate, cfg)
    part = checkpoint_data(model, Part(name="digits", kwargs={}), spec.data, tta=spec.tta)
    checked_arguments(dataset_class(part.name), part.kwargs, "data")
    assert (part.name, part.kwargs["image_size"], part.kwargs["num_classes"]) == (data, 40, None)
    assert cfg.tta == "center" and cfg.split == "test"
