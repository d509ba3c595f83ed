"""`python train.py --help` (and eval/predict/features/export): the project's groups,
each option with its line, and the settings."""

import pytest

from alexnet.run.config_help import config_help, describe
from conftest import CONFIG_DIR, run_script


def test_train_help_lists_the_groups_and_settings(tmp_path):
    result = run_script("train.py", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert text.startswith("python train.py [group=option ...]")
    for group in ("model", "data", "optimizer", "scheduler", "trainer", "experiment"):
        assert f"\n  {group}:\n" in text
    assert "*alexnet_mini" in text and "fault_tolerance.hang_timeout_s=900" in text


@pytest.mark.parametrize("task", ["eval", "predict", "features", "export"])
def test_the_other_tasks_help(task, monkeypatch):
    """The same text Hydra shows for ``<task>.py --help`` (the resolver, called here)."""
    monkeypatch.setenv("ALEXNET_CONFIG_DIR", str(CONFIG_DIR))
    text = config_help(task)
    assert text.startswith(f"python {task}.py [group=option ...]") and "ckpt_path=???" in text


def test_prepare_help_has_the_train_groups_and_its_own_task_name(monkeypatch):
    """prepare.yaml builds on train.yaml: the same groups and settings, its task name."""
    monkeypatch.setenv("ALEXNET_CONFIG_DIR", str(CONFIG_DIR))
    text = config_help("prepare")
    assert "\n  data:\n" in text and "*alexnet_mini" in text
    assert "task_name=prepare" in text and "task_name=train" not in text


def test_every_option_has_a_one_line_description():
    options = [p for p in CONFIG_DIR.glob("*/*.yaml") if p.parent.name not in ("hydra", "paths")]
    missing = [str(p.relative_to(CONFIG_DIR)) for p in options if not describe(p)]
    assert not missing, missing
