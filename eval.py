"""Evaluate a checkpoint. Examples:

python eval.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt
python eval.py ckpt_path=... data=caltech101 tta=ten_crop split=val
"""

from pathlib import Path

from alexnet.run.command import run_command

if __name__ == "__main__":
    run_command(Path(__file__).parent / "configs", "eval", "alexnet.tasks.evaluate:evaluate")
