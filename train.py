"""Train a model. Examples:

python train.py                                   # alexnet_mini on digits, offline
python train.py model=alexnet_bn data=cifar10 trainer.max_epochs=30
python train.py -m optimizer.lr=0.003,0.01 model=alexnet_mini,alexnet_bn
"""

from pathlib import Path

from alexnet.run.command import run_command

if __name__ == "__main__":
    run_command(Path(__file__).parent / "configs", "train", "alexnet.tasks.train:train")
