"""The training task: config → DataModule + LightningModule + Trainer → fit, test."""

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import lightning as L
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from alexnet.build import (
    build_callbacks,
    build_datamodule,
    build_module,
    build_net,
    build_trainer,
    model_input_size,
    plain,
    settle_class_count,
)
from alexnet.callbacks.preemption import CheckpointOnSignal
from alexnet.callbacks.resume import ExactResume
from alexnet.callbacks.watchdog import Watchdog
from alexnet.checkpoint_io import AtomicCheckpointIO
from alexnet.checkpoints import SaveRecord, read_checkpoint
from alexnet.console import inform
from alexnet.errors import EXIT_LOST_PROCESS, Diverged, Pruned, RunStopped, UserError
from alexnet.loggers import (
    WandbRunIdInCheckpoint,
    finish_loggers,
    git_commit,
    instantiate_loggers,
    summarise_run,
    sweep_name,
)
from alexnet.resuming import checkpoint_to_resume, continue_csv_log, note_resume, resumed_step
from alexnet.summary import print_results

if TYPE_CHECKING:
    from alexnet.callbacks.pruning import StudyPruning


def check_ddp_launch(cfg: DictConfig) -> None:
    """Lightning's ``ddp`` starts its other processes by re-running the command line,
    which in a ``-m`` sweep would re-run the whole sweep in each."""
    launched_outside = any(v in os.environ for v in ("LOCAL_RANK", "SLURM_PROCID"))
    strategy = cfg.trainer.get("strategy")
    reruns_command = strategy == "ddp" or (
        isinstance(strategy, DictConfig)
        and str(strategy.get("_target_")).endswith("DDPStrategy")
        and strategy.get("start_method", "popen") == "popen"
    )
    if sweep_name() and reruns_command and not launched_outside:
        raise UserError(
            "-m sweeps cannot use trainer.strategy=ddp (it re-runs the command per process): "
            "add trainer.strategy=ddp_spawn, or launch each job with launcher=slurm or torchrun"
        )


def good_checkpoints(trainer: L.Trainer) -> str:
    """Which checkpoints a diverged run leaves (none of them holds non-finite weights)."""
    saved = [
        f"{kind} {path}"
        for kind, path in (
            (
                "last",
                trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else "",
            ),
            (
                "best",
                trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else "",
            ),
        )
        if path
    ]
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
    trainer: L.Trainer, module: L.LightningModule, datamodule, output_dir: Path
) -> float:
    """``lr_find=true``: Lightning's learning-rate range test sets the optimizer's
    learning rate before training; its plot goes into the run directory."""
    from lightning.pytorch.tuner import Tuner

    finder = Tuner(trainer).lr_find(module, datamodule=datamodule, update_attr=False)
    rate = finder.suggestion() if finder else None
    if rate is None:
        raise UserError("lr_find found no learning rate (too few steps?): set optimizer.lr")
    module.optimizer_factory.keywords["lr"] = rate  # the optimizer config is a partial
    if trainer.is_global_zero:
        figure = finder.plot(suggest=True)
        figure.savefig(output_dir / "lr_find.png", dpi=110, bbox_inches="tight")
    inform(f"lr_find: learning rate {rate:.3g} (plot: {output_dir / 'lr_find.png'})")
    return rate


def study_pruning(cfg: DictConfig) -> "StudyPruning | None":
    """The pruning callback of a sweep's trial (``study_trial``, set by alexnet/study.py
    when ``hydra/sweeper/pruner=`` is given), or None."""
    if cfg.get("study_trial") is None:
        return None
    from alexnet.callbacks.pruning import StudyPruning  # Optuna: only in a sweep

    sweeper = HydraConfig.get().sweeper
    if not sweeper.get("pruner"):
        raise UserError("study_trial is set by the Optuna sweeper when it has a pruner")
    return StudyPruning(
        sweeper.storage,
        sweeper.study_name,
        cfg.study_trial,
        OmegaConf.to_container(sweeper.pruner, resolve=True),
        sweeper.pruning_metric,
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``, test the best checkpoint, print the results
    and write them to ``results.json``; returns the final metrics."""
    started = time.perf_counter()
    check_ddp_launch(cfg)
    output_dir = Path(cfg.paths.output_dir)
    ckpt_path = checkpoint_to_resume(cfg, output_dir)
    resumed = read_checkpoint(ckpt_path) if ckpt_path else None  # refuses a bad file first
    L.seed_everything(cfg.seed, workers=True)
    image_size = model_input_size(cfg.model, cfg.get("init_from"))
    datamodule = build_datamodule(cfg.data, image_size=image_size)
    settle_class_count(cfg, datamodule)
    net, built = build_net(cfg.model, init_from=cfg.get("init_from"))
    module = build_module(cfg, net)
    loggers = instantiate_loggers(
        cfg.get("logger"),
        resume_id=resumed.get("wandb_run_id") if resumed else None,
        resume_step=resumed_step(resumed) if resumed else None,
    )
    faults = cfg.fault_tolerance
    last = output_dir / "checkpoints" / "last.ckpt"
    data_kwargs = {k: v for k, v in plain(cfg.data).items() if k != "_target_"}
    callbacks = build_callbacks(cfg.get("callbacks"), cfg.trainer, has_logger=bool(loggers)) + [
        SaveRecord(built.model_dump(), data_kwargs),
        ExactResume(),
        CheckpointOnSignal(last, slurm_requeue=faults.slurm_requeue),
        watchdog := Watchdog(faults.hang_timeout_s, resume_hint=last),
    ]
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        callbacks.append(WandbRunIdInCheckpoint())
    if pruning := study_pruning(cfg):
        callbacks.append(pruning)
    trainer = build_trainer(
        cfg.trainer, callbacks=callbacks, logger=loggers, plugins=[AtomicCheckpointIO()]
    )
    resumes = []
    if resumed and rank_zero_only.rank == 0:
        for logger in loggers:
            if isinstance(logger, CSVLogger):
                continue_csv_log(logger, resumed_step(resumed))
        resumes = note_resume(output_dir, ckpt_path, resumed)
    logged_config = {**OmegaConf.to_container(cfg, resolve=True), "git_commit": git_commit()}
    for logger in loggers:
        logger.log_hyperparams(logged_config)
    if cfg.get("lr_find"):
        find_learning_rate(trainer, module, datamodule, output_dir)
    exit_code = 0
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        if pruning and (when := pruning.pruned()):
            raise Pruned(f"the study's pruner stopped it {when}")
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if cfg.get("test"):
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
    except Diverged as diverged:
        exit_code = diverged.exit_code
        raise Diverged(f"training diverged: {diverged}; {good_checkpoints(trainer)}") from None
    except RunStopped as stopped:
        exit_code = stopped.exit_code
        raise
    except Exception:  # a collective fails when another process dies: say which
        lost = watchdog.lost_process(wait_s=5.0)
        if lost is None:
            raise
        exit_code = EXIT_LOST_PROCESS
        raise RunStopped(watchdog.message(lost), exit_code) from None
    finally:
        finish_loggers(loggers, exit_code)
    seconds = time.perf_counter() - started
    if trainer.is_global_zero:
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
    return metrics
