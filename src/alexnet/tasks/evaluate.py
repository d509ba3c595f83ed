"""The evaluation task: a checkpoint on a dataset's val or test split."""

import json
import time
from pathlib import Path

import lightning as L
from omegaconf import DictConfig

from alexnet.checkpoints import read_checkpoint
from alexnet.module import ClassifierModule
from alexnet.run.errors import UserError
from alexnet.run.results import print_results
from alexnet.runspec.builder import build_data, build_trainer, load_model
from alexnet.runspec.spec import checkpoint_data


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Top-1/top-5 accuracy and loss of ``cfg.ckpt_path`` on ``cfg.split`` of
    ``cfg.data`` (default: the dataset it was trained on), with ``cfg.tta`` test views;
    prints a table and writes ``metrics.json`` into the run directory."""
    started = time.perf_counter()
    if cfg.split not in ("val", "test"):
        raise UserError(f"split={cfg.split!r} is not one of val, test")
    loaded = load_model(read_checkpoint(cfg.ckpt_path))
    L.seed_everything(cfg.seed, workers=True)
    data = checkpoint_data(loaded.record.model, loaded.record.data, cfg.get("data"), tta=cfg.tta)
    datamodule = build_data(data)
    module = ClassifierModule(
        loaded.net,
        num_classes=data.kwargs["num_classes"],
        class_names=loaded.record.class_names,
    )
    trainer = build_trainer(cfg.trainer, logger=False)
    run = trainer.test if cfg.split == "test" else trainer.validate
    metrics = {
        name: float(value)
        for loader in run(module, datamodule=datamodule, verbose=False)
        for name, value in loader.items()
    }
    output_dir = Path(cfg.paths.output_dir)
    if trainer.is_global_zero:
        report = {
            "ckpt_path": str(cfg.ckpt_path),
            "split": cfg.split,
            "tta": cfg.tta,
            "data": data.model_dump(),
            "metrics": metrics,
        }
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        print_results(metrics, output_dir, "", time.perf_counter() - started)
    return metrics
