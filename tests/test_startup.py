"""A run's start-up: what the default run imports (nothing heavy it does not use), and
its phases in the run's log (experiments/benchmarks/startup measures them)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

from alexnet.startup import TRAINING_PHASES

ROOT = Path(__file__).resolve().parents[1]

#: Heavy packages the default run (`python train.py`) does not use, and what does.
#: (s3fs is not here: where the ``s3`` extra installs it, Lightning imports it to ask
#: whether a folder is object storage — lightning.fabric.utilities.cloud_io — and no
#: public option stops it.)
HEAVY_UNUSED = {
    "optuna": "hparams_search=... (sweeps)",
    "optuna_dashboard": "optuna-dashboard",
    "sqlalchemy": "a study's storage",
    "alembic": "a study's storage",
    "psycopg": "a study on PostgreSQL",
    "submitit": "launcher=slurm",
    "onnx": "export.py",
    "onnxruntime": "export.py's check",
    "onnxscript": "export.py",
    "captum": "predict.py explain=true",
    "tensorboard": "logger=tensorboard",
    "tensorboardX": "logger=tensorboard",
    "litdata": "the prepared-data benchmark",
    "boto3": "the tests' S3 server",
    "moto": "the tests' S3 server",
}


def test_the_default_run_imports_nothing_heavy_it_does_not_use_and_logs_its_phases(tmp_path):
    """`python train.py` as written (W&B offline, as for a user without an account),
    smaller: one training, validation and test batch. ``-X importtime`` lists every
    module the command imported, lazily imported ones included."""
    run = tmp_path / "run"
    one_batch = ["trainer.max_epochs=1", f"hydra.run.dir={run}"] + [
        f"++trainer.limit_{split}_batches=1" for split in ("train", "val", "test")
    ]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(ROOT / "train.py"), *one_batch],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "WANDB_MODE": "offline"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    imported = {  # the packages of the modules imported (or tried: then not installed)
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "wandb" in imported and "lightning" in imported  # the listing is read right
    installed = {name for name in HEAVY_UNUSED if importlib.util.find_spec(name)}
    assert installed, "the dev extra installs these: the test would check nothing"
    pulled = {name: why for name, why in HEAVY_UNUSED.items() if name in imported & installed}
    assert not pulled, f"the default run imports what only these use: {pulled}"

    log = (run / "train.log").read_text()
    phases = re.findall(
        r"\[alexnet\.run\.startup\]\[DEBUG\] - start-up: (.+) [\d.]+ s \(([\d.]+) s\)", log
    )
    assert [name for name, _ in phases] == list(TRAINING_PHASES)
    since_start = [float(seconds) for _, seconds in phases]
    assert since_start == sorted(since_start) and since_start[0] > 0
