"""The training task: config → DataModule + LightningModule + Trainer → fit, test."""

import json
import os
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from alexnet.build import (
    build_callbacks,
    build_datamodule,
    build_module,
    build_net,
    build_trainer,
    plain,
)
from alexnet.callbacks.resume import RandomStateInCheckpoint
from alexnet.checkpoints import SaveRecord, read_checkpoint
from alexnet.errors import UserError
from alexnet.loggers import (
    WandbRunIdInCheckpoint,
    finish_loggers,
    git_commit,
    instantiate_loggers,
    sweep_name,
)
from alexnet.summary import print_results


def wandb_run_id(ckpt_path: str | None) -> str | None:
    """The W&B run a checkpoint was logged to, if any (read checks the whole file)."""
    if not ckpt_path:
        return None
    run_id = read_checkpoint(ckpt_path).get("wandb_run_id")
    return run_id if isinstance(run_id, str) else None


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
    resume_id = wandb_run_id(cfg.get("ckpt_path"))  # refuses a bad checkpoint before anything
    L.seed_everything(cfg.seed, workers=True)
    net, built = build_net(cfg.model, init_from=cfg.get("init_from"))
    image_size = built.kwargs["input_size"]
    datamodule = build_datamodule(cfg.data, image_size=image_size)
    module = build_module(cfg, net)
    loggers = instantiate_loggers(cfg.get("logger"), resume_id=resume_id)
    callbacks = build_callbacks(cfg.get("callbacks"), cfg.trainer)
    data_kwargs = {k: v for k, v in plain(cfg.data).items() if k != "_target_"}
    callbacks += [SaveRecord(built.model_dump(), data_kwargs), RandomStateInCheckpoint()]
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        callbacks.append(WandbRunIdInCheckpoint())
    trainer = build_trainer(cfg.trainer, callbacks=callbacks, logger=loggers)
    logged_config = {**OmegaConf.to_container(cfg, resolve=True), "git_commit": git_commit()}
    for logger in loggers:
        logger.log_hyperparams(logged_config)
    try:
        trainer.fit(
            module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True
        )
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if cfg.get("test"):
            (tested,) = trainer.test(
                module,
                datamodule=datamodule,
                ckpt_path=best or None,
                verbose=False,
                weights_only=True,
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
