"""A real two-process DDP run on the CPU (gloo): trains, checkpoints, evaluates."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, free_port, run_script
from fixtures import read_wandb_log


@pytest.mark.slow
def test_ddp_cpu_trains_checkpoints_and_evaluates_in_one_run_dir(tmp_path):
    """On-device data with a test split of 275 images, odd: one process gets a padding
    duplicate, which must not count (the metrics equal a single process's)."""
    result = run_script(
        "train.py",
        "trainer=ddp_cpu",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=4",
        "data.on_device=true",
        "data.test_fraction=0.153",
        "data.batch_size=4",
        "logger=wandb",
        "~callbacks.progress_bar",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "logs" / "train" / "runs").iterdir()  # one dir, not one per rank
    assert (run_dir / "train_ddp_process_1.log").is_file()  # the second process ran here
    assert len(list((run_dir / "wandb").glob("offline-run-*"))) == 1  # rank 0 logs alone
    results = json.loads((run_dir / "results.json").read_text())
    assert results["epochs"] == 2 and 0 <= results["metrics"]["test/acc"] <= 1
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["global_step"] == 8  # 2 epochs × 4 steps
    figures = sorted(p.name for p in (run_dir / "figures").glob("*.png"))
    assert len(figures) == 4  # conv1 filters and maps, predictions, confusion: last epoch
    (wandb_dir,) = (run_dir / "wandb").glob("offline-run-*")
    steps = [  # the keys of each history record (an image is several items of one record)
        {item.key or "/".join(item.nested_key) for item in r.history.item}
        for r in read_wandb_log(wandb_dir)
        if r.HasField("history")
    ]
    for name in ("conv1_filters", "conv1_maps", "val_predictions", "confusion_matrix"):
        logged = [keys for keys in steps if any(k.startswith(f"figures/{name}") for k in keys)]
        assert len(logged) == 1, name  # drawn once, by one process

    evaluated = run_script("eval.py", f"ckpt_path={results['best_checkpoint']}", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    (eval_dir,) = (tmp_path / "logs" / "eval" / "runs").iterdir()
    metrics = json.loads((eval_dir / "metrics.json").read_text())["metrics"]
    assert metrics["test/acc"] == pytest.approx(results["metrics"]["test/acc"], abs=1e-7)
    assert metrics["test/loss"] == pytest.approx(results["metrics"]["test/loss"], abs=1e-5)


@pytest.mark.slow
def test_ddp_in_a_multirun_sweep_points_to_ddp_spawn(tmp_path):
    result = run_script(
        "train.py", "-m", "trainer=ddp_cpu", "seed=1,2", "debug=fast_dev_run", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "trainer.strategy=ddp_spawn" in result.stderr


#: The same thread count in every process (Lightning gives cores / processes per node),
#: or the float sums of the convolutions differ between the two runs.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_two_torchrun_nodes_train_as_one_two_process_run(tmp_path):
    """`trainer=ddp_cpu` as two "nodes" (two torchrun agents, --nnodes=2, rendezvous on
    127.0.0.1): node 1 trains with node 0 (their weights equal a single-node 2-process
    run's, which needs both shards of every batch), and writes nothing of its own."""
    run = ["trainer=ddp_cpu", "trainer.max_epochs=2", "+trainer.limit_train_batches=5"]
    run += ["trainer.deterministic=true", "logger=csv", "seed=3", "~callbacks.progress_bar"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2"]
    torchrun += ["--nproc-per-node=1", "--master-addr=127.0.0.1", f"--master-port={free_port()}"]
    nodes = [
        subprocess.Popen(
            [*torchrun, f"--node-rank={node}", str(ROOT / "train.py"), *run]
            + ["trainer.devices=1", "trainer.num_nodes=2", f"hydra.run.dir={tmp_path}/node{node}"],
            cwd=tmp_path,
            env={**os.environ, **ONE_THREAD},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (1, 0)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[1][-3000:] + outputs[0][-3000:]
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in outputs[0]
    assert list((tmp_path / "node1").iterdir()) == []  # rank 0 alone writes
    single = run_script(
        "train.py", *run, f"hydra.run.dir={tmp_path}/single", cwd=tmp_path, env=ONE_THREAD
    )
    assert single.returncode == 0, single.stderr[-3000:]

    def final(name: str) -> tuple[dict, dict]:
        results = json.loads((tmp_path / name / "results.json").read_text())
        last = torch.load(tmp_path / name / "checkpoints/last.ckpt", weights_only=True)
        return results["metrics"], last["state_dict"]

    (metrics, weights), (single_metrics, single_weights) = final("node0"), final("single")
    assert metrics == single_metrics
    assert all(torch.equal(weights[k], single_weights[k]) for k in single_weights)
