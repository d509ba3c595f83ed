"""Train a model. Examples:

python train.py                                   # alexnet_mini on digits, offline
python train.py model=alexnet_bn data=cifar10 trainer.max_epochs=30
python train.py -m optimizer.lr=0.003,0.01 model=alexnet_mini,alexnet_bn
"""

from pathlib import Path

from alexnet.run.interrupts import one_line_on_signals

if __name__ == "__main__":
    with one_line_on_signals():  # Ctrl-C or SIGTERM, even while importing: one line
        from alexnet.run.cli import run_hydra
        from alexnet.tasks.train import train

        run_hydra(train, Path(__file__).parent / "configs", "train")
