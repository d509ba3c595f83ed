"""The evaluation task: a checkpoint on a dataset's val or test split."""

import json
import time
from pathlib import Path

import lightning as L

from alexnet.builder import build_data, build_trainer, load_model, set_up
from alexnet.checkpoints import read_checkpoint
from alexnet.checkpoints.identity import class_map
from alexnet.console import inform
from alexnet.faults.signals import signals_past_lightning
from alexnet.module import ClassifierModule
from alexnet.spec import EvalSpec, checkpoint_data
from alexnet.tasks.results import print_results


def evaluate(spec: EvalSpec) -> dict[str, float]:
    """Top-1/top-5 accuracy and loss of ``spec.ckpt_path`` on ``spec.split`` of
    ``spec.data`` (default: the dataset it was trained on), with ``spec.tta`` test
    views; prints a table and writes ``metrics.json`` into the run directory. Data with
    some of the checkpoint's classes, in any order, is mapped to them by name."""
    started = time.perf_counter()
    loaded = load_model(read_checkpoint(spec.ckpt_path))
    L.seed_everything(spec.seed, workers=True)
    data = checkpoint_data(loaded.record.model, loaded.record.data, spec.data, tta=spec.tta)
    datamodule = set_up(build_data(data))
    trained = loaded.record.class_names
    label_map = class_map(trained, datamodule.class_names, f"data {data.name}")
    if label_map is not None:
        names = ", ".join(datamodule.class_names)
        inform(f"data: classes {names} of the checkpoint's {', '.join(trained)}, mapped by name")
    module = ClassifierModule(
        loaded.net,
        num_classes=len(trained) or loaded.record.model.kwargs["num_classes"],
        class_names=trained,
        label_map=label_map,
    )
    trainer = build_trainer(spec.trainer, logger=False)
    run = trainer.test if spec.split == "test" else trainer.validate
    with signals_past_lightning():
        tested = run(module, datamodule=datamodule, verbose=False)
    metrics = {name: float(value) for loader in tested for name, value in loader.items()}
    output_dir = Path(spec.paths.output_dir)
    if trainer.is_global_zero:
        report = {
            "ckpt_path": spec.ckpt_path,
            "split": spec.split,
            "tta": spec.tta,
            "data": data.model_dump(),
            "metrics": metrics,
        }
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        print_results(metrics, output_dir, "", time.perf_counter() - started)
    return metrics
