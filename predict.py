"""Top-5 predictions of a checkpoint for images. Examples:

python predict.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt inputs=[cat.jpg,photos/]
python predict.py ckpt_path=... inputs=[cat.jpg] gradcam=true device=cpu batch_size=16
"""

from pathlib import Path

from alexnet.run.interrupts import one_line_on_signals

if __name__ == "__main__":
    with one_line_on_signals():  # Ctrl-C or SIGTERM, even while importing: one line
        from alexnet.run.cli import run_hydra
        from alexnet.tasks.predict import predict

        run_hydra(predict, Path(__file__).parent / "configs", "predict")
