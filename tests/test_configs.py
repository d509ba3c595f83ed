"""Every option of every config group composes into a config that resolves."""

import pytest
from omegaconf import OmegaConf, open_dict

from alexnet.arguments import checked_arguments
from alexnet.build import MODEL_OPTIONS
from alexnet.data import DATASETS
from alexnet.models import model_arguments
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
REQUIRED = {("data", "image_folder"): ["data.root=/some/folder"]}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_resolves_and_fits_its_constructors(group, option, tmp_path):
    """Every option resolves, and the model and dataset it leads to accept every key the
    config gives them (a key renamed in the code but not in a YAML file fails here)."""
    cfg = compose_config(tmp_path, f"{group}={option}", *REQUIRED.get((group, option), []))
    with open_dict(cfg):
        cfg.data.num_classes = 7  # what the data would settle
    container = OmegaConf.to_container(cfg, resolve=True)
    model = {k: v for k, v in container["model"].items() if k not in MODEL_OPTIONS}
    model_arguments(container["model"]["name"], model)
    data = dict(container["data"])
    target = data.pop("_target_")
    cls = next(c for c in DATASETS.values() if target.endswith(f".{c.__name__}"))
    checked_arguments(cls, data, "data")


def test_default_is_mini_on_digits(tmp_path):
    cfg = compose_config(tmp_path)
    assert cfg.model.name == "alexnet_mini" and cfg.data._target_.endswith("DigitsDataModule")
    assert set(cfg.logger) == {"csv", "wandb"}
    assert {"model_checkpoint", "lr_monitor", "progress_bar", "model_summary"} <= set(cfg.callbacks)


@pytest.mark.parametrize("data", [p.stem for p in sorted((CONFIG_DIR / "data").glob("*.yaml"))])
def test_eval_config_composes_with_every_dataset(data, tmp_path):
    overrides = [f"data={data}", "ckpt_path=x.ckpt", "+model.input_size=32"]
    cfg = compose_config(
        tmp_path, *overrides, *REQUIRED.get(("data", data), []), config_name="eval"
    )
    assert OmegaConf.to_container(cfg, resolve=True)["data"]["image_size"] == 32
    assert cfg.tta == "center" and cfg.split == "test"
