"""Evaluate a checkpoint. Examples:

python eval.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt
python eval.py ckpt_path=... data=caltech101 tta=ten_crop split=val
"""

from pathlib import Path

from alexnet.run.interrupts import one_line_on_signals

if __name__ == "__main__":
    with one_line_on_signals():  # Ctrl-C or SIGTERM, even while importing: one line
        from alexnet.run.cli import run_hydra
        from alexnet.tasks.evaluate import evaluate

        run_hydra(evaluate, Path(__file__).parent / "configs", "eval")
