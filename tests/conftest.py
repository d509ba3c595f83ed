"""Shared fixtures: composed configs, and datasets written in their real on-disk format."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from alexnet.faults.watchdog import THREAD_NAME as WATCHDOG_THREAD
from alexnet.run.cli import compose, spec_of

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"
sys.path.insert(0, str(Path(__file__).parent))  # the helpers next to the tests


def pytest_configure(config):
    """A worker of `make test`'s ``-n auto`` (pytest-xdist) gets one core: one thread for
    torch here and in the processes the tests start, instead of every worker taking all."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need a CUDA device; without one they are skipped, saying so."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device here: run `make test-gpu` on a GPU machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


LEAKED = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "LOCAL_RANK", "NODE_RANK", "WORLD_SIZE")


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path):
    """Each test starts without SLURM's variables or what an earlier test's
    lightning.seed_everything or DDP run left in the environment, and leaves none; its
    data directory (caches) is its own. The processes it starts get a temporary folder
    of their own, removed after it: what a process killed on purpose cannot remove
    (multiprocessing's pymp-*, W&B's and torchelastic's folders) goes with it. (Not
    tmp_path: a Unix socket's path, made in there, has at most 107 bytes.)"""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("SLURM_") or name in LEAKED:
            del os.environ[name]
    os.environ["ALEXNET_DATA_DIR"] = str(tmp_path / "data")
    scratch = tempfile.mkdtemp(prefix="alexnet-test-")
    os.environ["TMPDIR"] = scratch
    yield
    os.environ.clear()
    os.environ.update(saved)
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_watchdog_left():
    """No run's watchdog thread outlives its run: left running in the test process, it
    would end pytest itself (``os._exit``) once its hang timeout passed."""
    yield
    watching = [t for t in threading.enumerate() if t.name == WATCHDOG_THREAD]
    for thread in watching:
        thread.join(timeout=5)  # a stopped watch ends within its 1 s period
    assert not any(t.is_alive() for t in watching), "a run's watchdog thread outlived it"


#: The claims study's runs, which a study running beside the tests writes.
STUDY = Path("experiments", "paper_claims", "study")


def repository_files() -> set[Path]:
    skipped = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
    return {
        p.relative_to(ROOT)
        for p in ROOT.rglob("*")
        if not skipped & set(p.relative_to(ROOT).parts)
        and not p.name.endswith(".egg-info")
        and ".egg-info" not in str(p)
        and not p.relative_to(ROOT).is_relative_to(STUDY)
    }


@pytest.fixture(autouse=True, scope="session")
def _repository_left_as_it_was():
    """No test writes into the repository (runs, reports and exports go to tmp dirs)."""
    before = repository_files()
    yield
    added = sorted(str(p) for p in repository_files() - before)
    assert not added, f"tests wrote into the repository: {added[:10]}"


@pytest.fixture(autouse=True)
def _quiet_offline_wandb(monkeypatch, tmp_path):
    """W&B never reaches a server from a test and keeps its files in the test's dir."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))


def run_task(task, cfg: DictConfig):
    """``task`` run on the composed ``cfg`` as its command runs it: on its spec."""
    return task(spec_of(task, cfg))


def compose_config(run_dir: Path, *overrides: str, config_name: str = "train") -> DictConfig:
    """The config `python train.py *overrides` would run, writing into ``run_dir``."""
    paths = [f"paths.root_dir={ROOT}", f"paths.output_dir={run_dir}", f"paths.log_dir={run_dir}"]
    return compose(CONFIG_DIR, config_name, [*paths, *overrides])


@pytest.fixture
def cifar10_root(tmp_path) -> Path:
    from fixtures import write_cifar10

    return write_cifar10(tmp_path / "cifar10")


def run_script(script: str, *args: str, cwd: Path, env: dict | None = None):
    """Run an entry point (a script, or ``-m <module>``) as a user would, in ``cwd`` (a
    test's folder, never the repository); ``env`` adds variables (None unsets one).
    Returns the CompletedProcess."""
    import subprocess

    environment = {**os.environ, **(env or {})}
    command = ["-m", script[3:]] if script.startswith("-m ") else [str(ROOT / script)]
    return subprocess.run(
        [sys.executable, *command, *args],
        cwd=cwd,
        env={k: v for k, v in environment.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=600,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_report(*args, cwd: Path):
    """``python -m alexnet.report *args`` in ``cwd``; the CompletedProcess."""
    import subprocess

    command = [sys.executable, "-m", "alexnet.report", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> tuple[Path, list[str]]:
    """A checkpoint of alexnet_mini trained for an epoch on a 3-class image folder of
    5 JPEGs a class, and the overrides that select that data."""
    from alexnet.tasks.train import train
    from fixtures import write_class_tree

    tmp = tmp_path_factory.mktemp("trained")
    write_class_tree(tmp / "data", ["a", "b", "c"], 5)
    data = [
        f"data.root={tmp / 'data'}",
        "data.preset=modern",  # ImageNet statistics, shorter side 37: what the references use
        "data.num_classes=3",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
    ]
    cfg = compose_config(
        tmp / "run",
        "data=image_folder",
        "model=alexnet_mini",
        *data,
        "trainer.max_epochs=1",
        "test=false",
        "logger=csv",
        "data.num_workers=0",
        "data.batch_size=4",
        "~callbacks.progress_bar",
        "trainer.enable_progress_bar=false",
        f"paths.data_dir={tmp / 'data_dir'}",  # composed before a test's ALEXNET_DATA_DIR
    )
    run_task(train, cfg)
    return tmp / "run" / "checkpoints" / "last.ckpt", data


def run_sweep(cwd: Path, *args: str) -> Path:
    """Run ``train.py *args`` (a -m sweep) in ``cwd``; the sweep directory it made."""
    result = run_script("train.py", *args, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (cwd / "logs" / "train" / "multiruns").iterdir()
    return sweep_dir


def error_line(result) -> str:
    """The one ``error: ...`` line a failed entry point printed (fails if not exactly one)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.fixture
def s3_bucket(monkeypatch):
    """A real S3-protocol server (moto's) on a free port, with an empty bucket; the
    environment points boto at it. Yields the s3fs filesystem."""
    fsspec = pytest.importorskip("fsspec")
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto's buckets live in the process, not the server: empty them for this test (through
    # an opener of its own: urlopen's is built once, with the proxies of the test that first
    # used it, which may be NO_NETWORK's closed port)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    direct.open(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    environment = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir("bucket")
    yield fs
    fs.clear_instance_cache()  # the code under test's instances point at this server
    server.stop()


def start(run_dir: Path, *overrides: str, env: dict | None = None) -> subprocess.Popen:
    """train.py writing into ``run_dir``, in the background."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *overrides, f"hydra.run.dir={run_dir}"],
        cwd=run_dir.parent,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def wait_for_glob(
    folder: Path, pattern: str, process: subprocess.Popen, count: int = 1, timeout: float = 300
) -> list[Path]:
    """The paths under ``folder`` matching ``pattern``, once there are ``count`` of them
    (while ``process`` runs)."""
    deadline = time.monotonic() + timeout
    while len(found := list(folder.glob(pattern))) < count:
        assert process.poll() is None, f"the process ended before {pattern} appeared"
        assert time.monotonic() < deadline, f"{pattern} never appeared in {folder}"
        time.sleep(0.01)
    return found


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, weights_only=True)["state_dict"]


def max_abs_difference(a: Path, b: Path) -> float:
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys()
    return max((first[k].double() - second[k].double()).abs().max().item() for k in first)


def marked_processes(marker: str) -> list[int]:
    """The processes whose environment holds ``marker`` (a cell's own)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found
