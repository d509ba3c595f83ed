"""The training task: spec → DataModule + LightningModule + Trainer → fit, test."""

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only

from alexnet.builder import (
    build_callbacks,
    build_data,
    build_loggers,
    build_module,
    build_net,
    build_trainer,
    set_up,
    settle_classes,
)
from alexnet.checkpoints import Checkpoint, read_checkpoint
from alexnet.console import inform
from alexnet.errors import (
    EXIT_LOST_PROCESS,
    Diverged,
    Pruned,
    RunStopped,
    StoppedBySignal,
    UserError,
)
from alexnet.faults.resume import (
    check_resume,
    checkpoint_to_resume,
    keep_command_config,
    note_resume,
)
from alexnet.faults.signals import signals_past_lightning
from alexnet.faults.watchdog import Watchdog
from alexnet.loggers import continue_csv_log, finish_loggers, git_commit, summarise_run
from alexnet.module import ClassifierModule
from alexnet.spec import TrainSpec
from alexnet.startup import mark
from alexnet.tasks.results import print_results


def check_ddp_launch(spec: TrainSpec) -> None:
    """Lightning's ``ddp`` starts its other processes by re-running the command line,
    which in a ``-m`` sweep would re-run the whole sweep in each."""
    launched_outside = any(v in os.environ for v in ("LOCAL_RANK", "SLURM_PROCID"))
    strategy = spec.trainer.get("strategy")
    reruns_command = strategy == "ddp" or (
        isinstance(strategy, dict)
        and str(strategy.get("_target_")).endswith("DDPStrategy")
        and strategy.get("start_method", "popen") == "popen"
    )
    if spec.sweep and reruns_command and not launched_outside:
        raise UserError(
            "-m sweeps cannot use trainer.strategy=ddp (it re-runs the command per process): "
            "add trainer.strategy=ddp_spawn, or launch each job with launcher=slurm or torchrun"
        )


def good_checkpoints(trainer: L.Trainer) -> str:
    """Which checkpoints a diverged run leaves (none of them holds non-finite weights)."""
    callbacks = trainer.checkpoint_callbacks
    last = next((c.last_model_path for c in callbacks if c.last_model_path), "")
    best = next((c.best_model_path for c in callbacks if c.best_model_path), "")
    saved = [f"{kind} {path}" for kind, path in (("last", last), ("best", best)) if path]
    return (
        "checkpoints to go back to: " + ", ".join(saved) if saved else "no checkpoint was written"
    )


def headline(
    metrics: dict[str, float],
    trainer: L.Trainer,
    module: L.LightningModule,
    batch_size: int,
    seconds: float,
) -> dict[str, float | int]:
    """The figures that compare runs: best val and test top-1/top-5 with their error
    rates, epochs, wall time, training images per second, parameter count."""
    figures: dict[str, float | int] = {
        key: metrics[key]
        for key in ("val/acc_best", "val/acc_top5", "test/acc", "test/acc_top5")
        if key in metrics
    }
    figures.update({f"{k}_error": 1 - v for k, v in list(figures.items())})
    images = trainer.global_step * batch_size * trainer.world_size
    figures.update(
        {
            "epochs": trainer.current_epoch,
            "wall_time_s": seconds,
            "train_img_per_s": images / max(seconds, 1e-9),
            "parameters": sum(p.numel() for p in module.net.parameters()),
        }
    )
    return figures


def find_learning_rate(
    trainer: L.Trainer, module: ClassifierModule, datamodule, output_dir: Path
) -> float:
    """``lr_find=true``: Lightning's learning-rate range test sets the optimizer's
    learning rate before training; its plot goes into the run directory."""
    from lightning.pytorch.tuner import Tuner

    with signals_past_lightning():
        finder = Tuner(trainer).lr_find(module, datamodule=datamodule, update_attr=False)
    rate = finder.suggestion() if finder else None
    if rate is None:
        raise UserError("lr_find found no learning rate (too few steps?): set optimizer.lr")
    module.optimizer_factory = partial(module.optimizer_factory, lr=rate)
    if trainer.is_global_zero:
        figure = finder.plot(suggest=True)
        figure.savefig(output_dir / "lr_find.png", dpi=110, bbox_inches="tight")
    inform(f"lr_find: learning rate {rate:.3g} (plot: {output_dir / 'lr_find.png'})")
    return rate


def continue_logs(output_dir: Path, resumed: Checkpoint, loggers: list) -> list[dict]:
    """On the first process: the CSV log keeps its rows before the checkpoint's step
    (rows logged at a step are those of the batch before it), and the run directory
    notes the resume; all the resumes so far."""
    if rank_zero_only.rank != 0:
        return []
    for logger in loggers:
        if isinstance(logger, CSVLogger):
            continue_csv_log(logger, resumed.global_step, resumed.contents.get("unlogged_row", {}))
    return note_resume(output_dir, resumed)


@contextmanager
def loggers_finished(loggers: list, trainer: L.Trainer, watchdog: Watchdog) -> Iterator[None]:
    """Finish the loggers with the run's exit code, and say what stopped a run that
    failed: divergence (and the checkpoints to go back to), a lost process, or a signal
    (past Lightning's handling: the command's one line)."""
    exit_code = 0
    try:
        with signals_past_lightning():
            yield
    except Diverged as diverged:
        exit_code = diverged.exit_code
        raise Diverged(f"training diverged: {diverged}; {good_checkpoints(trainer)}") from None
    except RunStopped as stopped:
        exit_code = stopped.exit_code
        raise
    except StoppedBySignal as stopped:
        exit_code = 128 + stopped.signum
        raise
    except Exception:  # a collective fails when another process dies: say which
        lost = watchdog.lost_process(wait_s=5.0)
        if lost is None:
            raise
        exit_code = EXIT_LOST_PROCESS
        raise RunStopped(watchdog.message(lost), exit_code) from None
    finally:
        finish_loggers(loggers, exit_code)


def train(spec: TrainSpec) -> dict[str, float]:
    """Train the spec's model on its data, test the best checkpoint, print the results
    and write them to ``results.json``; returns the final metrics. A run continued
    (resume) is checked against its checkpoint before anything is written into it."""
    started = time.perf_counter()
    check_ddp_launch(spec)
    output_dir = Path(spec.paths.output_dir)
    resume_from = checkpoint_to_resume(spec)
    resumed = read_checkpoint(resume_from) if resume_from else None  # refuses a bad file first
    init = read_checkpoint(spec.init_from) if spec.init_from else None
    parts = spec.parts(init.record.model if init else None)
    if resumed:
        check_resume(resumed, spec, parts)  # what it trains, before the data is read
    datamodule = build_data(parts.data)
    parts = settle_classes(parts, datamodule)
    if resumed:
        check_resume(resumed, spec, parts, set_up(datamodule).fingerprint())  # and the data
    keep_command_config(output_dir)  # checked: from here on the run folder is written
    mark("data set-up")
    L.seed_everything(spec.seed, workers=True)
    net = build_net(parts.model, init)
    module = build_module(spec, parts, net)
    mark("model")
    loggers = build_loggers(spec, resumed)
    callbacks = build_callbacks(spec, parts, loggers)
    trainer = build_trainer(spec.trainer, resumed, callbacks=callbacks.all, logger=loggers)
    mark("callbacks and trainer")
    resumes = continue_logs(output_dir, resumed, loggers) if resumed else []
    logged = {**spec.model_dump(), "parts": parts.model_dump(), "git_commit": git_commit()}
    for logger in loggers:
        logger.log_hyperparams(logged)
    mark("loggers")
    if spec.lr_find:
        find_learning_rate(trainer, module, datamodule, output_dir)
    with loggers_finished(loggers, trainer, callbacks.watchdog):
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
        if callbacks.pruning and (when := callbacks.pruning.pruned()):
            raise Pruned(f"the study's pruner stopped it {when}")
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if spec.test:
            for tested in trainer.test(  # the test split (and train_eval: the same weights)
                module,
                datamodule=datamodule,
                ckpt_path=best or None,
                verbose=False,
                weights_only=True,
            ):
                metrics.update(tested)
        seconds = time.perf_counter() - started
        summarise_run(loggers, headline(metrics, trainer, module, datamodule.batch_size, seconds))
        if trainer.is_global_zero:  # before W&B finishes (an upload, online)
            write_results(output_dir, metrics, trainer, best, resumes, seconds)
    return metrics


def write_results(
    output_dir: Path, metrics: dict, trainer: L.Trainer, best: str, resumes: list, seconds: float
) -> None:
    """``results.json`` in the run directory, and the results table."""
    results = {
        "metrics": metrics,
        "epochs": trainer.current_epoch,
        "seconds": seconds,
        "best_checkpoint": best,
        "resumed_from": resumes,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print_results(metrics, output_dir, best, seconds)
