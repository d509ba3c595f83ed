"""Export a checkpoint's network. Examples:

python export.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt     # .ts and .onnx
python export.py ckpt_path=... 'formats=[pt2]' out=exported/
"""

from pathlib import Path

from alexnet.run.interrupts import one_line_on_signals

if __name__ == "__main__":
    with one_line_on_signals():  # Ctrl-C or SIGTERM, even while importing: one line
        from alexnet.run.cli import run_hydra
        from alexnet.tasks.export import export

        run_hydra(export, Path(__file__).parent / "configs", "export")
