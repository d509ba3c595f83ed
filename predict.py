"""Top-5 predictions of a checkpoint for images. Examples:

python predict.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt inputs=[cat.jpg,photos/]
python predict.py ckpt_path=... inputs=[cat.jpg] gradcam=true device=cpu batch_size=16
"""

from pathlib import Path

from alexnet.run.command import run_command

if __name__ == "__main__":
    run_command(Path(__file__).parent / "configs", "predict", "alexnet.tasks.predict:predict")
