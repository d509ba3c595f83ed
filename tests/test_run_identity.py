"""A run, a trial and a checkpoint know what they are: a command that continues or reads
one checks it first, and a command that refuses leaves every existing file as it was.
Every case runs the real entry point, as a user would."""

import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from conftest import error_line, run_report, run_script
from fixtures import write_class_tree

SHORT = [
    "trainer.max_epochs=2",
    "++trainer.limit_train_batches=3",
    "++trainer.limit_val_batches=2",
    "test=false",
]


def folder_bytes(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def changed(before: dict, after: dict) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k, 0) != after.get(k, 0))


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    """A finished 2-epoch run of the default command (digits, W&B offline), small."""
    folder = tmp_path_factory.mktemp("identity")
    env = {"WANDB_MODE": "offline", "ALEXNET_DATA_DIR": str(folder / "data")}
    result = run_script("train.py", *SHORT, f"hydra.run.dir={folder / 'run'}", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "run"


@pytest.fixture
def run_copy(digits_run, tmp_path) -> Path:
    return Path(shutil.copytree(digits_run, tmp_path / "run", symlinks=True))


def refused(result, *words: str) -> str:
    """The one error line of a command that exited with status 2, which names ``words``."""
    assert result.returncode == 2, result.stderr[-3000:]
    line = error_line(result)
    for word in words:
        assert word in line, line
    return line


REFUSED_RESUMES = {
    "another model": (
        ["model=alexnet_bn"],
        ["model.name: alexnet_mini → alexnet_bn", "init_from="],
    ),
    "another batch size": (["data.batch_size=8"], ["data.batch_size: 64 → 8"]),
    "another seed": (["seed=1"], ["seed: 42 → 1"]),
    "another dataset": (["data=cifar10"], ["data.name: digits → cifar10"]),
    "fewer epochs": (["trainer.max_epochs=1"], ["2 epochs", "trainer.max_epochs=1"]),
}
FAST_CASES = ("another model", "fewer epochs")


@pytest.mark.parametrize(
    "case",
    [c if c in FAST_CASES else pytest.param(c, marks=pytest.mark.slow) for c in REFUSED_RESUMES],
)
def test_a_refused_resume_leaves_the_run_as_it_was(case, run_copy, tmp_path):
    overrides, words = REFUSED_RESUMES[case]
    before = folder_bytes(run_copy)
    result = run_script("train.py", f"resume={run_copy}", *SHORT[1:], *overrides, cwd=tmp_path)
    refused(result, str(run_copy), *words)
    assert changed(before, folder_bytes(run_copy)) == []


@pytest.mark.slow
def test_a_resume_may_change_devices_workers_loggers_and_add_epochs(run_copy, tmp_path):
    more = ["trainer.max_epochs=3", "data.num_workers=0", "logger=csv", "trainer.devices=1"]
    result = run_script("train.py", f"resume={run_copy}", *SHORT[1:], *more, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = torch.load(run_copy / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["epoch"] == 3  # a third epoch ran


def test_a_checkpoint_of_another_model_is_one_line(digits_run, tmp_path):
    ckpt = digits_run / "checkpoints" / "last.ckpt"
    result = run_script("train.py", f"ckpt_path={ckpt}", "model=alexnet_bn", *SHORT, cwd=tmp_path)
    refused(result, str(ckpt), "model.name: alexnet_mini → alexnet_bn")
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").rglob("*.ckpt"))


def damaged(ckpt: Path, out: Path) -> Path:
    """``ckpt`` with 64 KiB of random bytes written inside its largest weight record."""
    data = bytearray(ckpt.read_bytes())
    with zipfile.ZipFile(ckpt) as archive:
        record = max(archive.infolist(), key=lambda info: info.file_size)
    header = record.header_offset
    start = header + 30 + int.from_bytes(data[header + 26 : header + 28], "little")
    start += int.from_bytes(data[header + 28 : header + 30], "little")
    middle = start + record.file_size // 2
    data[middle : middle + 2**16] = os.urandom(2**16)
    out.write_bytes(bytes(data))
    return out


def non_finite(ckpt: Path, out: Path) -> Path:
    """``ckpt`` (a whole, valid file) with one weight of its network set to NaN."""
    contents = torch.load(ckpt, weights_only=True)
    weight = next(k for k in contents["state_dict"] if k.endswith("weight"))
    contents["state_dict"][weight].view(-1)[0] = float("nan")
    torch.save(contents, out)
    return out


def readers(ckpt: Path, tmp_path: Path) -> dict[str, list[str]]:
    """Each command that reads a checkpoint, as arguments."""
    image = tmp_path / "digit.png"
    write_class_tree(tmp_path / "images", ["x"], 1)
    shutil.copy(next((tmp_path / "images" / "x").iterdir()), image)
    return {
        "eval": ["eval.py", f"ckpt_path={ckpt}"],
        "predict": ["predict.py", f"ckpt_path={ckpt}", f"inputs=[{image}]"],
        "features": ["features.py", f"ckpt_path={ckpt}"],
        "export": ["export.py", f"ckpt_path={ckpt}", f"out={tmp_path / 'exported'}"],
        "train": ["train.py", f"ckpt_path={ckpt}", *SHORT],
    }


@pytest.mark.parametrize("damage", [damaged, non_finite])
@pytest.mark.parametrize(
    "command",
    ["eval", *(pytest.param(c, marks=pytest.mark.slow) for c in ("predict", "features", "export"))]
    + [pytest.param("train", marks=pytest.mark.slow)],
)
def test_every_reader_refuses_a_damaged_checkpoint(damage, command, digits_run, tmp_path):
    ckpt = damage(digits_run / "checkpoints" / "last.ckpt", tmp_path / "broken.ckpt")
    script, *args = readers(ckpt, tmp_path)[command]
    words = ("damaged",) if damage is damaged else ("not finite",)
    refused(run_script(script, *args, cwd=tmp_path), str(ckpt), *words)
    assert not (tmp_path / "exported").exists()


def test_eval_on_other_class_names_names_both(trained, tmp_path):
    ckpt, data = trained
    other = write_class_tree(tmp_path / "other", ["x", "y", "z"], 4)
    options = [o for o in data if not o.startswith("data.root=")]
    result = run_script(
        "eval.py", f"ckpt_path={ckpt}", "data=image_folder", f"data.root={other}",
        *options, cwd=tmp_path,
    )  # fmt: skip
    refused(result, "['a', 'b', 'c']", "['x', 'y', 'z']")


@pytest.mark.slow
def test_eval_on_some_of_the_classes_maps_them_by_name(trained, tmp_path):
    ckpt, data = trained
    some = write_class_tree(tmp_path / "some", ["a", "c"], 6)
    options = [o for o in data if not o.startswith(("data.root=", "data.num_classes="))]
    result = run_script(
        "eval.py", f"ckpt_path={ckpt}", "data=image_folder", f"data.root={some}",
        *options, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "classes a, c of the checkpoint's a, b, c" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command, option",
    [("eval.py", "+model=alexnet_bn"), ("features.py", "+layer=fc9")],
)
def test_an_option_the_command_does_not_use_is_one_line(command, option, trained, tmp_path):
    result = run_script(command, f"ckpt_path={trained[0]}", option, cwd=tmp_path)
    refused(result, option.lstrip("+").split("=")[0], "not an option of")


def other_pictures(data_root: Path, tmp_path: Path) -> Path:
    """The same class names, file names and counts, other pictures."""
    return write_class_tree(tmp_path / "other", ["a", "b", "c"], 5, seed=77)


def same_sizes(data_root: Path, tmp_path: Path) -> Path:
    """A copy in which one picture has other bytes, and the same size."""
    other = Path(shutil.copytree(data_root, tmp_path / "other"))
    picture = other / "b" / "img_0003.jpg"
    content = bytearray(picture.read_bytes())
    content[len(content) // 2] ^= 0xFF
    picture.write_bytes(bytes(content))
    return other


@pytest.mark.slow
@pytest.mark.parametrize("make_other", [other_pictures, same_sizes])
def test_a_resume_on_other_images_is_refused(make_other, trained, tmp_path):
    """The same options, the same number of classes, other pictures."""
    ckpt, data = trained
    run = Path(shutil.copytree(ckpt.parent.parent, tmp_path / "run"))
    (root,) = [o.removeprefix("data.root=") for o in data if o.startswith("data.root=")]
    other = make_other(Path(root), tmp_path)
    options = [o for o in data if not o.startswith("data.root=")]
    before = folder_bytes(run)
    result = run_script(
        "train.py", f"resume={run}", "data=image_folder", "model=alexnet_mini",
        f"data.root={other}", *options, "trainer.max_epochs=2", "data.batch_size=4",
        cwd=tmp_path,
    )  # fmt: skip
    refused(result, "data", "init_from=")
    assert changed(before, folder_bytes(run)) == []


STUDY = [
    "hparams_search=alexnet_optuna",
    "hydra.sweeper.sampler.seed=1234",
    "hydra.sweeper.sampler.n_startup_trials=1",
    "debug=limit",
    "trainer.max_epochs=1",
]


@pytest.mark.slow
def test_a_sweep_folder_belongs_to_its_study(tmp_path):
    sweep = tmp_path / "sweep"
    first = run_script(
        "train.py", *STUDY, "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr[-3000:]
    (sweep / "study.db").unlink()  # the study is gone; its trial folders are not
    before = folder_bytes(sweep)
    for storage in ([], [f"hydra.sweeper.storage=journal:{tmp_path / 'other.log'}"]):
        again = run_script(
            "train.py", *STUDY, "hydra.sweeper.n_trials=2", f"hydra.sweep.dir={sweep}",
            *storage, cwd=tmp_path,
        )  # fmt: skip
        refused(again, str(sweep), "hydra.sweep.dir=")
        assert changed(before, folder_bytes(sweep)) == []
        assert not (tmp_path / "other.log").exists()


@pytest.mark.slow
def test_the_report_finds_the_study_wherever_it_lives(tmp_path):
    journal = tmp_path / "elsewhere" / "study.log"
    result = run_script(
        "train.py", *STUDY, "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage=journal:{journal}",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (tmp_path / "logs" / "train" / "sweeps").iterdir()
    report = run_report(sweep, cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "## Best trial" in report.stdout
    assert "## Parameter importances (fANOVA)" in report.stdout
