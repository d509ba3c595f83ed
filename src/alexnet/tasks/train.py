"""The training task: config → DataModule + LightningModule + Trainer → fit, test."""

import json
import os
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from alexnet.errors import UserError
from alexnet.loggers import (
    WandbRunIdInCheckpoint,
    finish_loggers,
    git_commit,
    instantiate_loggers,
    sweep_name,
)
from alexnet.module import ClassifierModule
from alexnet.summary import print_results


def instantiate_callbacks(cfg: DictConfig | None) -> list[L.Callback]:
    """One callback per entry of the ``callbacks`` group."""
    return [instantiate(callback_cfg) for callback_cfg in (cfg or {}).values()]


def build_module(cfg: DictConfig) -> ClassifierModule:
    """The LightningModule around ``cfg.model``, with the run's config saved in it."""
    return ClassifierModule(
        net=instantiate(cfg.model),
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        num_classes=cfg.data.num_classes,
        label_smoothing=cfg.label_smoothing,
        run_config=OmegaConf.to_container(cfg, resolve=True),
        compile=cfg.get("compile", False),
        channels_last=cfg.get("channels_last", False),
    )


def wandb_run_id(ckpt_path: str | None) -> str | None:
    """The W&B run a checkpoint was logged to, if any."""
    if not ckpt_path or not Path(ckpt_path).is_file():
        return None
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)
    return checkpoint.get("wandb_run_id")  # mmap: the weights are not read


def check_ddp_launch(cfg: DictConfig) -> None:
    """Lightning's ``ddp`` starts its other processes by re-running the command line,
    which in a ``-m`` sweep would re-run the whole sweep in each."""
    launched_outside = any(v in os.environ for v in ("LOCAL_RANK", "SLURM_PROCID"))
    if sweep_name() and cfg.trainer.get("strategy") == "ddp" and not launched_outside:
        raise UserError(
            "-m sweeps cannot use trainer.strategy=ddp (it re-runs the command per process): "
            "add trainer.strategy=ddp_spawn, or launch each job with launcher=slurm or torchrun"
        )


def train(cfg: DictConfig) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``, test the best checkpoint, print the results
    and write them to ``results.json``; returns the final metrics."""
    started = time.perf_counter()
    check_ddp_launch(cfg)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    loggers = instantiate_loggers(cfg.get("logger"), resume_id=wandb_run_id(cfg.get("ckpt_path")))
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        callbacks.append(WandbRunIdInCheckpoint())
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    logged_config = {**OmegaConf.to_container(cfg, resolve=True), "git_commit": git_commit()}
    for logger in loggers:
        logger.log_hyperparams(logged_config)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if cfg.get("test"):
            (tested,) = trainer.test(
                module, datamodule=datamodule, ckpt_path=best or None, verbose=False
            )
            metrics.update(tested)
    finally:
        finish_loggers(loggers)
    seconds = time.perf_counter() - started
    if trainer.is_global_zero:
        output_dir = Path(cfg.paths.output_dir)
        results = {
            "metrics": metrics,
            "epochs": trainer.current_epoch,
            "seconds": seconds,
            "best_checkpoint": best,
        }
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        print_results(metrics, output_dir, best, seconds)
    return metrics
