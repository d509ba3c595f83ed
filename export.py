"""Export a checkpoint's network. Examples:

python export.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt     # .ts and .onnx
python export.py ckpt_path=... 'formats=[pt2]' out=exported/
"""

from pathlib import Path

from alexnet.run.command import run_command

if __name__ == "__main__":
    run_command(Path(__file__).parent / "configs", "export", "alexnet.tasks.export:export")
