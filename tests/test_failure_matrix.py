"""The failure matrix: every command × every place it writes or reads × each fault of
that place, and every command × each signal, generated from the tables below (a new
command or place is a row, not a test). Each cell runs the real entry point, as a user
would, with the fault made real in a mount namespace of its own (a read-only or full
file system, a file where a folder should be, nothing there). A cell ends in one
``error:`` line that names the path and a way out (exit 2) — or, where the place is
simply missing, in the command making it (exit 0) — or for a signal in its documented
exit status; nothing partial is left, and no process of the command outlives it."""

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from alexnet.module import ClassifierModule
from alexnet.run.command import run_command
from conftest import CONFIG_DIR, ROOT, marked_processes, run_script
from fixtures import write_class_tree

SHORT = ["trainer.max_epochs=1", "++trainer.limit_train_batches=2", "++trainer.limit_val_batches=1"]


@dataclass(frozen=True)
class Command:
    """A command as a user types it (``{...}`` filled from the world), and the places it
    writes or reads besides its run folder."""

    argv: list[str]
    places: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()  # places it only reads: missing there is an error
    caches: tuple[str, ...] = ()  # places it only caches in: a fault there costs time alone


COMMANDS = {
    "train": Command(["train.py", *SHORT, "test=false"], ("ALEXNET_ROOT", "current directory")),
    "train on images": Command(
        ["train.py", *SHORT, "data=image_folder", "data.root={photos}", "model=alexnet_mini"],
        caches=("data dir",),
    ),
    "train prepared": Command(
        [
            "train.py",
            *SHORT,
            "data=image_folder",
            "data.root={photos}",
            "data.preset=small",
            "model=alexnet_mini",
            "data.prepared.use=true",
        ],
        ("prepared copies",),
    ),  # fmt: skip
    "eval": Command(["eval.py", "ckpt_path={ckpt}"]),
    "predict": Command(["predict.py", "ckpt_path={ckpt}", "inputs=[{photos}/a]"]),
    "features": Command(["features.py", "ckpt_path={ckpt}"]),
    "export": Command(
        ["export.py", "ckpt_path={ckpt}", "formats=[torchscript]"], ("export target",)
    ),
    "prepare": Command(
        [
            "prepare.py",
            "data=image_folder",
            "data.root={photos}",
            "data.preset=small",
            "model=alexnet_mini",
        ],
        ("data dir", "prepared copies"),
    ),  # fmt: skip
    "report": Command(["-m alexnet.report", "{place}"], reads=("the runs compared",)),
    "sweep": Command(
        [
            "train.py",
            "hparams_search=alexnet_optuna",
            "hydra.sweeper.n_trials=1",
            *SHORT,
            "logger=csv",
        ],
        ("study storage",),
    ),  # fmt: skip
}


ALL_FAULTS = ("read-only", "no space left", "a file in the way", "missing")


@dataclass(frozen=True)
class Place:
    """How a command is pointed at a place (arguments, environment, working folder) and
    the faults it can have."""

    args: tuple[str, ...] = ()
    env: dict = field(default_factory=dict)
    cwd: bool = False
    faults: tuple[str, ...] = ALL_FAULTS


PLACES = {
    "run folder": Place(args=("paths.log_dir={place}",)),
    "data dir": Place(env={"ALEXNET_DATA_DIR": "{place}"}),
    "prepared copies": Place(args=("data.prepared.dir={place}",)),
    "export target": Place(args=("out={place}",)),
    "study storage": Place(args=("hydra.sweeper.storage=journal:{place}/study.log",)),
    "ALEXNET_ROOT": Place(env={"ALEXNET_ROOT": "{place}"}),
    "current directory": Place(cwd=True, faults=("read-only", "no space left")),
    "the runs compared": Place(faults=("missing", "a file in the way")),
}

#: How each fault is made at ``$PLACE`` (in a mount namespace of the cell's own).
FAULTS = {
    "read-only": 'mkdir -p "$PLACE" && mount -t tmpfs -o ro,size=1m tmpfs "$PLACE"',
    "no space left": 'mkdir -p "$PLACE" && mount -t tmpfs -o size=8k tmpfs "$PLACE"',
    "a file in the way": 'mkdir -p "$(dirname "$PLACE")" && echo x > "$PLACE"',
    "missing": "true",
}
WAYS_OUT = ("give ", "set ALEXNET", "run it from", "free some space", "move it away", "check ")
HARNESS = """{fault} || exit 77
cd "$CELL_CWD" && exec "$@"
"""


#: A cell of `make test-all`: its fault is in a mount namespace of its own, so it runs
#: beside the others.
SLOW_CELL = (pytest.mark.slow, pytest.mark.beside_others)


def cells() -> list:
    found = []
    for name, command in COMMANDS.items():
        places = ("run folder", *command.places, *command.caches)
        places = places if name != "report" else command.reads
        for place in places:
            for fault in PLACES[place].faults:
                fast = fault == "read-only" and place in ("run folder", "data dir")
                marks = () if fast and name in ("train", "prepare") else SLOW_CELL
                found.append(pytest.param(name, place, fault, marks=marks))
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """What the commands read: a trained checkpoint (digits), photos in class folders,
    a finished run to compare."""
    folder = tmp_path_factory.mktemp("world")
    photos = write_class_tree(folder / "photos", ["a", "b", "c"], 10)
    env = {"WANDB_MODE": "offline", "ALEXNET_DATA_DIR": str(folder / "data")}
    result = run_script(
        "train.py", *SHORT, "logger=csv", f"hydra.run.dir={folder / 'run'}", cwd=folder, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"photos": photos, "ckpt": folder / "run" / "checkpoints" / "last.ckpt",
            "run": folder / "run"}  # fmt: skip


def command_line(name: str, place_name: str, place: Path, world: dict) -> tuple[list, dict, Path]:
    """The command's argv, environment and working folder, pointed at ``place``."""
    how = PLACES[place_name]
    values = {**{k: str(v) for k, v in world.items()}, "place": str(place)}
    script, *args = [a.format(**values) for a in COMMANDS[name].argv]
    args += [a.format(**values) for a in how.args]
    command = ["-m", script[3:]] if script.startswith("-m ") else [str(ROOT / script)]
    env = {k: v.format(**values) for k, v in how.env.items()}
    cwd = place if how.cwd else place.parent / "cwd"
    return [sys.executable, *command, *args], env, cwd


def partial_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*.partial-*")]


def check_cell_left_nothing(marker: str, folder: Path) -> None:
    deadline = time.monotonic() + 10
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not marked_processes(marker), "processes of the command outlived it"
    assert not partial_files(folder)


@pytest.mark.parametrize(("name", "place_name", "fault"), cells())
def test_a_fault_of_a_place_is_one_line(name, place_name, fault, world, tmp_path):
    place = tmp_path / "place" / "here"
    argv, env, cwd = command_line(name, place_name, place, world)
    cwd.mkdir(parents=True, exist_ok=True) if cwd != place else place.parent.mkdir(parents=True)
    marker = f"ALEXNET_CELL={uuid.uuid4().hex}"
    environment = {**os.environ, "WANDB_MODE": "offline", **env, "PLACE": str(place)}
    environment |= {"CELL_CWD": str(cwd), marker.split("=")[0]: marker.split("=")[1]}
    if "ALEXNET_ROOT" not in env:
        environment.pop("ALEXNET_ROOT", None)
    harness = ["unshare", "--user", "--map-root-user", "--mount", "bash", "-c"]
    result = subprocess.run(
        [*harness, HARNESS.format(fault=FAULTS[fault]), "-", *argv],
        env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode == 77:
        pytest.skip(f"cannot make the fault here: {result.stderr[-300:]}")
    check_cell_left_nothing(marker, tmp_path)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    if place_name in COMMANDS[name].caches:  # the run goes on, caching nothing
        assert result.returncode == 0, result.stderr[-3000:]
        return
    if fault == "missing" and place_name not in COMMANDS[name].reads:
        assert result.returncode == 0, result.stderr[-3000:]
        assert place.is_dir()  # made
        return
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(errors) == 1, result.stderr[-3000:]
    assert str(place) in errors[0], errors[0]
    assert any(way in errors[0] for way in WAYS_OUT), errors[0]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


#: How long each command has run its real work when a signal comes: a file it writes.
SIGNALLED = {
    "train": ("train.py", [*SHORT[1:], "trainer.max_epochs=50", "test=false",
              "fault_tolerance.checkpoint_every_n_steps=1"],
              "logs/train/runs/*/checkpoints/last.ckpt"),
    "prepare": ("prepare.py", ["data=image_folder", "data.root={photos}", "data.preset=paper",
                "data.num_workers=2", "data.prepared.shard_images=2"],
                "data/prepared/*/train/shard-*.npy"),
    "eval": ("eval.py", ["ckpt_path={ckpt}"], "logs/eval/runs/*"),
    "export": ("export.py", ["ckpt_path={ckpt}", "out={tmp}/out"], "logs/export/runs/*"),
    "sweep": ("train.py", ["-m", "launcher=local", "optimizer.lr=0.01,0.02",
              "trainer.max_epochs=30", "logger=csv", "test=false"],
              "logs/train/multiruns/*/*/checkpoints/last.ckpt"),
}  # fmt: skip
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}
#: The signals each command is tried with (a sweep's jobs handle Ctrl-C and SIGTERM
#: themselves, as a training run does: tests/tasks/test_sweeps.py).
SIGNALS = {name: list(EXIT_STATUS) for name in SIGNALLED} | {"sweep": [signal.SIGKILL]}


def as_at_a_terminal() -> None:
    """Ctrl-C as a command started at a terminal gets it, even where the tests run in
    the background of a shell without job control (which ignores SIGINT for its
    background jobs, and a Python started so keeps ignoring it, as it should)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "signum"),
    [(name, signum) for name, signums in SIGNALS.items() for signum in signums],
    ids=lambda value: getattr(value, "name", value),
)
def test_a_signal_ends_a_command_in_one_line_and_no_process_outlives_it(
    name, signum, world, tmp_path
):
    script, args, working = SIGNALLED[name]
    values = {**{k: str(v) for k, v in world.items()}, "tmp": str(tmp_path)}
    if name == "prepare":  # many pictures: the workers are busy when the signal comes
        values["photos"] = str(write_class_tree(tmp_path / "many", ["a", "b"], 150))
    marker = uuid.uuid4().hex
    env = {**os.environ, "ALEXNET_CELL": marker, "ALEXNET_DATA_DIR": str(tmp_path / "data")}
    env.pop("ALEXNET_ROOT", None)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / script), *[a.format(**values) for a in args]],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=as_at_a_terminal,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(working)) and process.poll() is None:
        assert time.monotonic() < deadline, f"{working} never appeared"
        time.sleep(0.02)
    assert process.poll() is None, process.communicate()[1][-3000:]
    os.kill(process.pid, signum)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == EXIT_STATUS[signum], stderr[-3000:]
    if signum != signal.SIGKILL:
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and signal.Signals(signum).name in errors[0], stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        assert not partial_files(tmp_path)
    deadline = time.monotonic() + 5
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not marked_processes(marker), "processes of the command outlived it"


#: A command run in this process, with a signal sent from inside Lightning's loop: the
#: step whose first call sends it, and the task.
INSIDE_THE_LOOP = {
    "eval": ("test_step", "alexnet.tasks.evaluate:evaluate", ["ckpt_path={ckpt}"]),
    "train": ("validation_step", "alexnet.tasks.train:train", [*SHORT, "logger=csv"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("name", INSIDE_THE_LOOP)
def test_a_signal_inside_lightnings_loop_ends_the_command_in_its_one_line(
    name, signum, world, tmp_path, monkeypatch, capfd
):
    """Lightning's loops catch Ctrl-C themselves and end with status 1 and a line of
    their own: a signal while one runs (eval's first test batch, the training run's
    sanity check) ends the command as it does anywhere else."""
    step, task, args = INSIDE_THE_LOOP[name]
    original = getattr(ClassifierModule, step)

    def signalled(self, *inputs, **options):
        os.kill(os.getpid(), signum)
        return original(self, *inputs, **options)

    monkeypatch.setattr(ClassifierModule, step, signalled)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALEXNET_ROOT", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *[a.format(**world) for a in args]])
    with pytest.raises(SystemExit) as ended:
        run_command(CONFIG_DIR, name, task)
    output = capfd.readouterr()
    assert ended.value.code == 128 + signum, output.err[-3000:]
    errors = [line for line in output.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and signum.name in errors[0], output.err[-3000:]
    assert "KeyboardInterrupt" not in output.out + output.err
