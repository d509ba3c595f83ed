"""The evaluation task: a checkpoint on a dataset's val or test split."""

import json
import time
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from alexnet.checkpoints import load_classifier, read_checkpoint
from alexnet.errors import UserError
from alexnet.summary import print_results


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Top-1/top-5 accuracy and loss of ``cfg.ckpt_path`` on ``cfg.split`` of
    ``cfg.data`` (default: the dataset it was trained on), with ``cfg.tta`` test views;
    prints a table and writes ``metrics.json`` into the run directory."""
    started = time.perf_counter()
    if cfg.split not in ("val", "test"):
        raise UserError(f"split={cfg.split!r} is not one of val, test")
    checkpoint = read_checkpoint(cfg.ckpt_path)
    run_config = checkpoint["hyper_parameters"]["run_config"]
    with open_dict(cfg):
        cfg.model = run_config["model"]  # data configs resize to ${model.input_size}
        if cfg.get("data") is None:
            cfg.data = run_config["data"]
    L.seed_everything(cfg.seed, workers=True)
    module = load_classifier(checkpoint)
    datamodule = instantiate(cfg.data, tta=cfg.tta)
    trainer: L.Trainer = instantiate(cfg.trainer, logger=False)
    run = trainer.test if cfg.split == "test" else trainer.validate
    (metrics,) = run(module, datamodule=datamodule, verbose=False)
    metrics = {name: float(value) for name, value in metrics.items()}
    output_dir = Path(cfg.paths.output_dir)
    if trainer.is_global_zero:
        report = {
            "ckpt_path": str(cfg.ckpt_path),
            "split": cfg.split,
            "tta": cfg.tta,
            "data": OmegaConf.to_container(cfg.data, resolve=True),
            "metrics": metrics,
        }
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        print_results(metrics, output_dir, "", time.perf_counter() - started)
    return metrics
