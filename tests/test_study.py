"""Optuna sweeps on a study database (alexnet/sweeps/sweeper.py), run for real: a rerun continues
the study, a killed sweep finishes it without repeating trials, two workers share it and
together run exactly n_trials, on SQLite and on a real PostgreSQL server."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from alexnet.sweeps.storage import open_storage
from conftest import ROOT, free_port, run_report, run_script

#: A trial takes a few seconds: two short epochs of alexnet_mini on a part of digits.
FAST_TRIAL = [
    "hparams_search=alexnet_optuna",
    "trainer.max_epochs=2",
    "+trainer.limit_val_batches=2",
    "test=false",
    "logger=csv",
    "hydra.sweeper.heartbeat_interval=1",
    "hydra.sweeper.grace_period=2",
]


def study_of(cwd: Path, storage: str | None = None) -> optuna.Study:
    url = storage or f"sqlite:///{cwd / 'logs/train/sweeps/alexnet_optuna/study.db'}"
    return optuna.load_study(study_name="alexnet_optuna", storage=open_storage(url))


def states(study: optuna.Study) -> dict[int, str]:
    return {t.number: t.state.name for t in study.get_trials(deepcopy=False)}


def sweep(cwd: Path, *args: str, batches: int = 4) -> subprocess.Popen:
    """A sweep's command, started; ``batches``: training batches an epoch."""
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "train.py"),
            *FAST_TRIAL,
            f"+trainer.limit_train_batches={batches}",
            *args,
        ],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    return output


@pytest.mark.slow
def test_rerun_continues_the_study_and_diverged_trials_are_pruned(tmp_path):
    finished(sweep(tmp_path, "hydra.sweeper.n_trials=2"))
    first = (tmp_path / "logs/train/sweeps/alexnet_optuna/trial_000/results.json").stat()
    assert states(study_of(tmp_path)) == {0: "COMPLETE", 1: "COMPLETE"}

    finished(sweep(tmp_path, "hydra.sweeper.n_trials=2"))  # nothing left to do
    assert len(states(study_of(tmp_path))) == 2

    # A larger budget adds one trial; its learning rate makes it diverge: pruned, and
    # the sweep still ends with status 0 (it ran the trials it was asked to).
    output = finished(
        sweep(tmp_path, "hydra.sweeper.n_trials=3", "optimizer.lr=tag(log, interval(1e8, 1e9))")
    )
    assert states(study_of(tmp_path)) == {0: "COMPLETE", 1: "COMPLETE", 2: "PRUNED"}
    assert "2 complete, 1 diverged, 0 pruned, 0 failed" in output
    ckpt = tmp_path / "logs/train/sweeps/alexnet_optuna/trial_000/checkpoints/last.ckpt"
    recorded = torch.load(ckpt, weights_only=True)["alexnet"]["study"]  # a trial's identity
    assert (recorded["name"], recorded["trial"]) == ("alexnet_optuna", 0)
    stopped = study_of(tmp_path).trials[2].user_attrs["stopped"]
    assert stopped.startswith("Diverged: training diverged")
    again = (tmp_path / "logs/train/sweeps/alexnet_optuna/trial_000/results.json").stat()
    assert again.st_mtime_ns == first.st_mtime_ns  # trial 0 was not run again


def kill_during_second_trial(process: subprocess.Popen, cwd: Path, how: signal.Signals) -> None:
    second = cwd / "logs/train/sweeps/alexnet_optuna/trial_001/checkpoints/last.ckpt"
    deadline = time.monotonic() + 300
    while not second.is_file():  # written at the end of its first epoch, of two
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.1)
    process.send_signal(how)
    process.communicate(timeout=120)
    assert process.returncode == (-how if how == signal.SIGKILL else 128 + how)


@pytest.mark.parametrize(
    ("how", "died_trials", "expected"),
    [
        # killed: the trial's heartbeat stops, it goes stale and is retried as trial 3
        (signal.SIGKILL, "retry", {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE", 3: "COMPLETE"}),
        # SIGTERM: the job checkpoints and stops; the trial is failed and not retried
        (signal.SIGTERM, "skip", {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE"}),
    ],
)
@pytest.mark.parametrize("where", ["sqlite", "journal", "postgresql"])
@pytest.mark.slow
def test_a_stopped_sweep_finishes_its_study_when_rerun(
    tmp_path, request, where, how, died_trials, expected
):
    """On each storage: a worker killed (or stopped) during its second trial; the
    rerun fails the dead trial once its heartbeat is older than the grace period, runs
    it again with the same parameters (retry) and finishes the study's three."""
    storage = {
        "sqlite": None,
        "journal": f"journal:{tmp_path / 'shared' / 'study.log'}",
        "postgresql": request.getfixturevalue("postgres_url") if where == "postgresql" else None,
    }[where]
    args = ["hydra.sweeper.n_trials=3", f"hydra.sweeper.died_trials={died_trials}"]
    args += [f"hydra.sweeper.storage={storage}"] if storage else []
    kill_during_second_trial(sweep(tmp_path, *args, batches=40), tmp_path, how)
    states_now = states(study_of(tmp_path, storage))
    assert states_now == {0: "COMPLETE", 1: "RUNNING" if how == 9 else "FAIL"}

    finished(sweep(tmp_path, *args))
    study = study_of(tmp_path, storage)
    assert states(study) == expected
    if died_trials == "retry":
        (retry,) = [t for t in study.trials if t.system_attrs.get("failed_trial") == 1]
        assert retry.params == study.trials[1].params


def run_two_workers(cwd: Path, n_trials: int, *args: str) -> None:
    workers = [sweep(cwd, f"hydra.sweeper.n_trials={n_trials}", *args) for _ in range(2)]
    outputs = [finished(worker) for worker in workers]
    ran = [output.count("run directory:") for output in outputs]
    assert sum(ran) == n_trials and min(ran) >= 1, ran


@pytest.mark.slow
def test_two_workers_run_exactly_the_requested_trials_on_sqlite(tmp_path):
    run_two_workers(tmp_path, 5)
    trials = study_of(tmp_path).get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 5
    assert len(list((tmp_path / "logs/train/sweeps/alexnet_optuna").glob("trial_*"))) == 5


@pytest.fixture
def postgres_url() -> str:
    """A PostgreSQL server of Debian's ``postgresql`` package, started for the test in
    a temporary folder (as the ``postgres`` user when the tests run as root)."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins or not (bins[-1] / "initdb").is_file():
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg is not installed: make install")
    # Its own folder in /tmp: pytest's are private to the user running the tests.
    folder = Path(tempfile.mkdtemp(prefix="alexnet-postgres-"))
    as_user = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    initdb = [*as_user, bins[-1] / "initdb", "-D", data, "-A", "trust", "-U", "postgres"]
    subprocess.run(initdb, check=True, capture_output=True)
    server = [*as_user, bins[-1] / "pg_ctl", "-D", data, "-w", "-l", folder / "server.log"]
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run([*server, "-o", options, "start"], check=True, capture_output=True)
    yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    subprocess.run([*server, "stop", "-m", "fast"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_share_a_study_on_postgresql(tmp_path, postgres_url):
    work = tmp_path / "work"
    work.mkdir()
    run_two_workers(work, 4, f"hydra.sweeper.storage={postgres_url}")
    assert [t.state.name for t in study_of(work, postgres_url).trials] == ["COMPLETE"] * 4


def test_a_study_needs_sqlite_or_postgresql(tmp_path):
    result = run_script(
        "train.py", *FAST_TRIAL, "hydra.sweeper.storage=mysql://x@y/z", cwd=tmp_path
    )
    assert result.returncode == 2
    assert (
        "a shared study needs SQLite (one machine), PostgreSQL (many machines) or journal:"
        in result.stderr
    )


@pytest.mark.slow
def test_report_of_a_study(tmp_path):
    finished(sweep(tmp_path, "hydra.sweeper.n_trials=3"))
    folder = tmp_path / "logs/train/sweeps/alexnet_optuna"
    result = run_report(folder, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    study = study_of(tmp_path)
    text = (folder / "study.md").read_text()
    for trial in study.trials:  # a row each, with its value
        assert f"| {trial.number} | {trial.value:.4f} |" in text
    best = study.best_trial
    assert f"python train.py data.batch_size={best.params['data.batch_size']}" in text
    importances = text.split("## Parameter importances")[1]
    assert all(f"| {name} |" in importances for name in best.params)
    assert "W&B group: `alexnet_optuna`" in text
    from PIL import Image

    assert Image.open(folder / "study.png").size[0] > 300


@pytest.mark.parametrize("processes", [[], ["trainer=ddp_cpu", "trainer.strategy=ddp_spawn"]])
@pytest.mark.slow
def test_a_pruner_stops_a_hopeless_trial_in_every_process(tmp_path, processes):
    """hydra/sweeper/pruner=threshold with a bar no trial reaches: trial 1 reports
    val/acc after epochs 0 and 1, is pruned after its warm-up epoch 1 (of 3) and stops
    there, in both DDP processes too; the study and its report say so."""
    finished(sweep(tmp_path, "hydra.sweeper.n_trials=1"))  # trial 0: no pruner
    prune_all = ["hydra/sweeper/pruner=threshold", "hydra.sweeper.pruner.lower=0.99"]
    prune_all += ["hydra.sweeper.pruner.n_warmup_steps=1", "trainer.max_epochs=3"]
    output = finished(sweep(tmp_path, "hydra.sweeper.n_trials=2", *prune_all, *processes))
    assert "1 complete, 0 diverged, 1 pruned, 0 failed" in output
    study = study_of(tmp_path)
    assert states(study) == {0: "COMPLETE", 1: "PRUNED"}
    pruned = study.trials[1]
    assert sorted(pruned.intermediate_values) == [0, 1]
    assert pruned.user_attrs["pruned"]["epoch"] == 1
    assert pruned.user_attrs["stopped"].startswith("Pruned: the study's pruner stopped it")
    folder = tmp_path / "logs/train/sweeps/alexnet_optuna"
    with open(folder / "trial_001/csv/metrics.csv") as log:
        assert {row["epoch"] for row in csv.DictReader(log) if row["epoch"]} == {"0", "1"}
    assert not (folder / "trial_001/results.json").exists()  # it did not finish
    assert run_report(folder, cwd=tmp_path).returncode == 0
    assert "| 1 | pruned after epoch 1 |" in (folder / "study.md").read_text()


@pytest.mark.slow
def test_optuna_dashboard_shows_the_study(tmp_path):
    """`optuna-dashboard <storage>` (the README's command) serves the study: its API
    lists the study and every trial with its state and parameters."""
    import json
    import urllib.request

    finished(sweep(tmp_path, "hydra.sweeper.n_trials=2"))
    url = f"sqlite:///{tmp_path / 'logs/train/sweeps/alexnet_optuna/study.db'}"
    port = free_port()
    dashboard = Path(sys.executable).parent / "optuna-dashboard"  # beside this Python
    assert dashboard.is_file(), "optuna-dashboard is not installed: make install"
    server = subprocess.Popen(
        [dashboard, url, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        api = f"http://127.0.0.1:{port}/api/studies"
        for _ in range(120):  # it starts within a few seconds
            try:
                with urllib.request.urlopen(api, timeout=2) as answer:
                    (summary,) = json.load(answer)["study_summaries"]
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(server.stderr.read1().decode()[-2000:])
        assert summary["study_name"] == "alexnet_optuna"
        with urllib.request.urlopen(f"{api}/{summary['study_id']}?after=0", timeout=10) as answer:
            trials = json.load(answer)["trials"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    study = study_of(tmp_path)
    assert [t["state"] for t in trials] == ["Complete"] * len(study.trials) == ["Complete"] * 2
    shown = {p["name"] for p in trials[0]["params"]}
    assert shown == set(study.trials[0].params)
