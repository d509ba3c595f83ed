"""Every option of train.py, given a value of the wrong type or misspelt: one line and
exit status 2, before anything runs or is written. The cases come from the composed
config, so a new option is covered without writing its test (issue 25)."""

import sys

import pytest
from omegaconf import OmegaConf

from alexnet.errors import EXIT_USER_ERROR
from alexnet.run.cli import run_hydra
from alexnet.spec import TrainSpec
from conftest import CONFIG_DIR, compose_config

#: A value of the wrong type for an option whose default has this type (a nested list,
#: for any option: no option takes one).
WRONG = {bool: "maybe", int: "abc", float: "abc"}
NESTED_LIST = "[[1]]"
#: Options that take any text as well as their default's type, so "abc" is no mistake.
ANY_TEXT = {
    "trainer.devices": "Lightning reads text such as '0,1' or 'auto'",
}


def options() -> dict[str, object]:
    """Every option of the composed train.py config (its Hydra settings aside), with its
    default, interpolations left unresolved."""
    config = compose_config(CONFIG_DIR.parent / "unused")
    container = OmegaConf.to_container(config, resolve=False)
    found: dict[str, object] = {}

    def walk(node: object, key: str) -> None:
        if isinstance(node, dict) and node:
            for name, value in node.items():
                if not str(name).startswith("_"):  # _target_, _partial_: not options
                    walk(value, f"{key}.{name}" if key else str(name))
        elif key != "hydra":
            found[key] = node

    walk({k: v for k, v in container.items() if k != "hydra"}, "")
    return found


OPTIONS = options()


def wrong_values() -> list[tuple[str, str]]:
    """(option, value) pairs: a nested list for every option, and text (or a fraction)
    for those whose default is a number or a truth value."""
    cases = [(key, NESTED_LIST) for key in OPTIONS]
    cases += [
        (key, WRONG[type(default)])
        for key, default in OPTIONS.items()
        if type(default) in WRONG and key not in ANY_TEXT
    ]
    cases += [("data.batch_size", "1.5"), ("trainer.max_epochs", "2.5")]
    return sorted(cases)


def run_train(argument: str, tmp_path, monkeypatch, capsys) -> tuple[int, str]:
    """``python train.py <argument>`` in this process: exit status and stderr; fails if
    the task itself is reached (the mistake went unnoticed)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALEXNET_ROOT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["train.py", argument])

    def task(spec: TrainSpec):
        pytest.fail(f"{argument}: the run started")

    with pytest.raises(SystemExit) as stopped:
        run_hydra(task, CONFIG_DIR, "train")
    return stopped.value.code, capsys.readouterr().err


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr[-2000:]
    return lines[0]


# 260 cases like these two, half a second each in this process: `make test-all` runs them
# on every core; a few are in `make test`.
@pytest.mark.slow
@pytest.mark.beside_others
@pytest.mark.parametrize(("key", "value"), wrong_values())
def test_a_value_of_the_wrong_type(key, value, tmp_path, monkeypatch, capsys):
    code, stderr = run_train(f"{key}={value}", tmp_path, monkeypatch, capsys)
    assert code == EXIT_USER_ERROR
    assert one_error_line(stderr).startswith(f"error: {key}=")
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").rglob("*.log"))


@pytest.mark.slow
@pytest.mark.beside_others
@pytest.mark.parametrize("key", sorted(OPTIONS))
def test_a_misspelt_option_gets_the_right_one_suggested(key, tmp_path, monkeypatch, capsys):
    code, stderr = run_train(f"{key}{key[-1]}=1", tmp_path, monkeypatch, capsys)
    assert code == EXIT_USER_ERROR
    assert one_error_line(stderr).endswith(f"did you mean {key}?")


@pytest.mark.parametrize(
    ("argument", "line"),
    [
        ("data.batch_size=abc", "error: data.batch_size=abc: the value should be a valid integer"),
        ("data.batch_size=1.5", "error: data.batch_size=1.5: the value should be a valid integer"),
        ("seed=abc", "error: seed=abc: the value should be a valid integer"),
        (
            "model.input_size=abc",
            "error: model.input_size=abc: the value should be a valid integer",
        ),
        (
            "trainer.max_epoch=2",
            "error: trainer.max_epoch is not an option: did you mean trainer.max_epochs?",
        ),
        (
            "+model.dropot=0.1",
            "error: model.dropot is not an option of model alexnet_mini: "
            "did you mean model.dropout?",
        ),
    ],
)
def test_common_mistakes(argument, line, tmp_path, monkeypatch, capsys):
    """A few of the cases above in `make test`, with their whole line."""
    code, stderr = run_train(argument, tmp_path, monkeypatch, capsys)
    assert code == EXIT_USER_ERROR and one_error_line(stderr) == line
