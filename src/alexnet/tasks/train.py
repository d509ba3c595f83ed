"""The training task: config → DataModule + LightningModule + Trainer → fit, test."""

import time
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from alexnet.loggers import finish_loggers, instantiate_loggers
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
    )


def train(cfg: DictConfig) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``, test the best checkpoint, print the results;
    returns the final metrics (``val/acc_best``, ``test/acc``, ...)."""
    started = time.perf_counter()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    module = build_module(cfg)
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=instantiate_callbacks(cfg.get("callbacks")), logger=loggers
    )
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
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
    if trainer.is_global_zero:
        print_results(metrics, Path(cfg.paths.output_dir), best, time.perf_counter() - started)
    return metrics
