"""Checkpoints are data from strangers: crafted files are refused by every entry point
with one line and exit status 2, and nothing they name is ever called."""

import copy
import os
import shutil
from pathlib import Path

import pytest
import torch
import torchvision

from alexnet.builder import load_model
from alexnet.checkpoints import net_state_dict, read_checkpoint
from alexnet.errors import UserError
from alexnet.tasks.evaluate import evaluate
from alexnet.tasks.export import export
from alexnet.tasks.features import extract_features
from alexnet.tasks.predict import predict
from alexnet.tasks.train import train
from alexnet.tasks.upgrade import upgrade
from conftest import compose_config, error_line, run_script, run_task
from fixtures import write_class_tree, write_image


class RunsCode:
    """Pickles to ``os.system(command)``: what a malicious .ckpt file does."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def crafted_files(trained_ckpt: Path, folder: Path, marker: Path) -> dict[str, Path]:
    """Files that would create ``marker`` if anything they name were called."""
    good = torch.load(trained_ckpt, weights_only=True)
    files = {}

    def write(name: str, checkpoint) -> None:
        files[name] = folder / f"{name}.ckpt"
        torch.save(checkpoint, files[name])

    write("pickle_runs_code", {"state_dict": {}, "payload": RunsCode(f"touch {marker}")})
    old = copy.deepcopy(good)
    del old["alexnet"]
    old["hyper_parameters"]["run_config"] = {
        "model": {"_target_": "builtins.open", "file": str(marker), "mode": "w"},
        "data": {"_target_": "alexnet.data.DigitsDataModule"},
    }
    write("old_format_open", old)
    targets = {
        "model_builtins_open": ("model", "builtins.open", {"file": str(marker), "mode": "w"}),
        "model_os_system": ("model", "os.system", {"command": f"touch {marker}"}),
        "data_subprocess_run": ("data", "subprocess.run", {"args": ["touch", str(marker)]}),
        "model_package_class": ("model", "alexnet.models.AlexNet", {}),
        "model_target_argument": (
            "model",
            "alexnet_mini",
            {"_target_": "builtins.open", "file": str(marker), "mode": "w"},
        ),
    }
    for name, (part, target, kwargs) in targets.items():
        checkpoint = copy.deepcopy(good)
        checkpoint["alexnet"][part] = {"name": target, "kwargs": kwargs}
        write(name, checkpoint)
    wrong_type = copy.deepcopy(good)
    wrong_type["alexnet"]["model"]["kwargs"]["dropout"] = "0.5"
    write("wrong_type", wrong_type)
    extra_key = copy.deepcopy(good)
    extra_key["alexnet"]["exec"] = f"touch {marker}"
    write("extra_key", extra_key)
    return files


@pytest.fixture(scope="module")
def crafted(trained, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crafted")
    marker = folder / "MARKER"
    yield crafted_files(trained[0], folder, marker), marker, trained[1]
    shutil.rmtree(folder)


def entry_point_configs(tmp_path: Path, ckpt: Path, data: list[str]) -> dict:
    """The task and config of every path that reads a checkpoint."""
    image = write_image(tmp_path / "x.png")
    quiet = ["trainer.enable_progress_bar=false", "logger=csv", "callbacks=none"]
    train_data = ["data=image_folder", *data, "model=alexnet_mini", "trainer.max_epochs=1"]
    train_data.append("data.batch_size=4")  # as trained: a resume continues it
    return {
        "train_resume": (train, "train", [*train_data, *quiet, f"ckpt_path={ckpt}"]),
        "train_init_from": (train, "train", [*train_data, *quiet, f"init_from={ckpt}"]),
        "eval": (evaluate, "eval", [f"ckpt_path={ckpt}"]),
        "predict": (predict, "predict", [f"ckpt_path={ckpt}", f"inputs=[{image}]"]),
        "features": (extract_features, "features", [f"ckpt_path={ckpt}"]),
        "export": (export, "export", [f"ckpt_path={ckpt}", f"out={tmp_path}"]),
    }


ENTRY_POINTS = ["train_resume", "train_init_from", "eval", "predict", "features", "export"]
KINDS = [
    "pickle_runs_code",
    "old_format_open",
    "model_builtins_open",
    "model_os_system",
    "data_subprocess_run",
    "model_package_class",
    "model_target_argument",
    "wrong_type",
    "extra_key",
]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_task_refuses_every_crafted_checkpoint(crafted, kind, entry, tmp_path):
    files, marker, data = crafted
    task, config_name, overrides = entry_point_configs(tmp_path, files[kind], data)[entry]
    with pytest.raises(UserError) as refused:
        run_task(task, compose_config(tmp_path / "run", *overrides, config_name=config_name))
    assert "\n" not in str(refused.value)
    assert not marker.exists()


@pytest.mark.parametrize(  # one in `make test`, every one in `make test-all`
    "entry", [e if e == "eval" else pytest.param(e, marks=pytest.mark.slow) for e in ENTRY_POINTS]
)
def test_every_entry_point_refuses_a_pickle_in_one_line(crafted, entry, tmp_path):
    files, marker, data = crafted
    _, config_name, overrides = entry_point_configs(tmp_path, files["pickle_runs_code"], data)[
        entry
    ]
    result = run_script(f"{config_name}.py", *overrides, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "refusing to read checkpoint" in error_line(result)
    assert "Traceback" not in result.stderr and not marker.exists()


def test_the_converter_refuses_what_it_does_not_know(crafted, tmp_path):
    files, marker, _ = crafted
    with pytest.raises(UserError, match="unknown model 'builtins.open'"):
        upgrade(files["old_format_open"], tmp_path / "new.ckpt")
    assert not marker.exists() and not (tmp_path / "new.ckpt").exists()


def old_format(ckpt: Path, path: Path, data_root: str) -> Path:
    """``ckpt`` rewritten as train.py wrote checkpoints before 0.2: the resolved run
    config with Hydra targets under hyper_parameters, no record."""
    checkpoint = torch.load(ckpt, weights_only=True)
    record = checkpoint.pop("alexnet")
    model = {"_target_": "alexnet.models.AlexNet", "arch": "mini", "freeze": None}
    model.update(record["model"]["kwargs"])
    data = {"_target_": "alexnet.data.ImageFolderDataModule", **record["data"]["kwargs"]}
    data["root"] = data_root
    checkpoint["hyper_parameters"]["run_config"] = {"model": model, "data": data}
    checkpoint["hyper_parameters"]["class_names"] = record["class_names"]
    torch.save(checkpoint, path)
    return path


@pytest.mark.slow
def test_old_checkpoints_are_refused_with_the_command_that_converts_them(trained, tmp_path):
    ckpt, data = trained
    old = old_format(ckpt, tmp_path / "old.ckpt", data[0].split("=", 1)[1])
    result = run_script("eval.py", f"ckpt_path={old}", cwd=tmp_path)
    assert result.returncode == 2
    assert f"python -m alexnet.upgrade {old}" in error_line(result)
    result = run_script("-m alexnet.upgrade", str(old), str(tmp_path / "new.ckpt"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    converted, original = load_model(tmp_path / "new.ckpt"), load_model(ckpt)
    assert converted.record.model == original.record.model
    assert converted.record.preprocessing == original.record.preprocessing
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(converted.net(x), original.net(x), rtol=0, atol=0)


def test_a_record_with_an_unknown_dataset_argument_names_it(trained, tmp_path):
    checkpoint = torch.load(trained[0], weights_only=True)
    checkpoint["alexnet"]["data"]["kwargs"]["batch_sizes"] = 3
    torch.save(checkpoint, tmp_path / "bad.ckpt")
    with pytest.raises(UserError, match="data image_folder has no argument 'batch_sizes'"):
        read_checkpoint(tmp_path / "bad.ckpt")


def test_mismatched_weights_are_reported_by_name(trained, tmp_path):
    checkpoint = torch.load(trained[0], weights_only=True)
    state = checkpoint["state_dict"]
    state["net.features.0.weight"] = state["net.features.0.weight"][:, :1]
    del state["net.classifier.1.bias"]
    state["net.extra.weight"] = torch.zeros(1)
    torch.save(checkpoint, tmp_path / "bad.ckpt")
    with pytest.raises(UserError) as refused:
        load_model(tmp_path / "bad.ckpt")
    message = str(refused.value)
    assert "shape mismatch: features.0.weight" in message
    assert "missing: classifier.1.bias" in message and "unexpected: extra.weight" in message


@pytest.mark.slow
def test_torchvision_alexnet_loads_a_trained_alexnet_torchvision_checkpoint(tmp_path):
    """Both ways: torchvision's state_dict into alexnet_torchvision (see
    tests/models), and a checkpoint of ours into torchvision.models.alexnet() with the
    README's one-line call."""
    write_class_tree(tmp_path / "data", ["a", "b"], 5)
    cfg = compose_config(
        tmp_path / "run",
        "data=image_folder",
        f"data.root={tmp_path / 'data'}",
        "data.num_classes=2",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "data.num_workers=0",
        "data.batch_size=2",
        "model=alexnet_torchvision",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        "test=false",
        "logger=csv",
        "callbacks=[model_checkpoint]",
        "trainer.enable_progress_bar=false",
    )
    run_task(train, cfg)
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    reference = torchvision.models.alexnet(num_classes=2)
    reference.load_state_dict(net_state_dict(ckpt))  # the README's call
    x = torch.randn(2, 3, 224, 224)
    ours = load_model(ckpt).net
    with torch.no_grad():
        torch.testing.assert_close(reference.eval()(x), ours(x), rtol=0, atol=0)


@pytest.mark.parametrize(  # the two train paths in `make test`, every one in `make test-all`
    "entry",
    [e if e.startswith("train") else pytest.param(e, marks=pytest.mark.slow) for e in ENTRY_POINTS],
)
def test_every_entry_point_reads_its_checkpoint_once(trained, entry, tmp_path, monkeypatch):
    """One read and one check per command: resuming hands the checkpoint the run read
    to Lightning, fine-tuning builds the model from the record it read."""
    ckpt, data = trained
    task, config_name, overrides = entry_point_configs(tmp_path, ckpt, data)[entry]
    cfg = compose_config(tmp_path / "run", *overrides, config_name=config_name)
    reads: list[Path] = []
    load = torch.load

    def counted_load(f, *args, **kwargs):
        opened = f if isinstance(f, (str, os.PathLike)) else getattr(f, "path", f.name)
        reads.append(Path(opened).resolve())  # a path, or an open file's
        return load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counted_load)
    run_task(task, cfg)
    assert reads.count(ckpt.resolve()) == 1


def test_last_checkpoint_holds_the_final_step_when_the_last_epoch_did_not_improve(tmp_path):
    """With a learning rate of 0 the validation accuracy never improves after the
    first epoch; last.ckpt must still be the finished run's (Lightning's own
    ModelCheckpoint left it at the last step checkpoint)."""
    cfg = compose_config(
        tmp_path / "run",
        "optimizer.lr=0",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=5",
        "fault_tolerance.checkpoint_every_n_steps=3",
        "test=false",
        "logger=csv",
        "trainer.enable_progress_bar=false",
    )
    run_task(train, cfg)
    last = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["global_step"], last["epoch"]) == (10, 2)  # both epochs completed


def test_a_checkpoint_of_format_2_is_read(trained, tmp_path):
    """Written before runs recorded their identity (0.2): no training, fingerprint or
    study, and the prepared copy's options flat (``prepared_size``, ...)."""
    contents = torch.load(trained[0], weights_only=True)
    record = contents["alexnet"]
    for key in ("training", "fingerprint", "study"):
        del record[key]
    record["format"] = 2
    kwargs = record["data"]["kwargs"]
    copy = kwargs.pop("prepared")
    kwargs |= {"prepared": copy.pop("use"), **{f"prepared_{k}": v for k, v in copy.items()}}
    torch.save(contents, tmp_path / "v2.ckpt")
    read = read_checkpoint(tmp_path / "v2.ckpt")
    assert read.record.data == read_checkpoint(trained[0]).record.data
    assert read.record.training is None and read.record.fingerprint is None
