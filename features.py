"""Extract the penultimate layer's features of a dataset split (fc7 after its ReLU for
the AlexNet family: 4096-d, 1024-d for alexnet_mini). Examples:

python features.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt split=test
python features.py ckpt_path=... data=caltech101 split=train
"""

from pathlib import Path

from alexnet.run.interrupts import one_line_on_signals

if __name__ == "__main__":
    with one_line_on_signals():  # Ctrl-C or SIGTERM, even while importing: one line
        from alexnet.run.cli import run_hydra
        from alexnet.tasks.features import extract_features

        run_hydra(extract_features, Path(__file__).parent / "configs", "features")
