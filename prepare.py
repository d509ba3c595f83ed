"""Prepare an image dataset once at the paper's resolution (256×256 squares). Examples:

python prepare.py data=image_folder data.root=~/photos model=alexnet
python prepare.py data=imagenet_subset model=alexnet
"""

from pathlib import Path

from alexnet.run.interrupts import one_line_on_signals

if __name__ == "__main__":
    with one_line_on_signals():  # Ctrl-C or SIGTERM, even while importing: one line
        from alexnet.run.cli import run_hydra
        from alexnet.tasks.prepare import prepare

        run_hydra(prepare, Path(__file__).parent / "configs", "prepare")
