"""Extract the penultimate layer's features of a dataset split (fc7 after its ReLU for
the AlexNet family: 4096-d, 1024-d for alexnet_mini). Examples:

python features.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt split=test
python features.py ckpt_path=... data=caltech101 split=train
"""

from pathlib import Path

from alexnet.run.command import run_command

if __name__ == "__main__":
    run_command(
        Path(__file__).parent / "configs", "features", "alexnet.tasks.features:extract_features"
    )
