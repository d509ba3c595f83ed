"""Prepare an image dataset once at the paper's resolution (256×256 squares). Examples:

python prepare.py data=image_folder data.root=~/photos model=alexnet
python prepare.py data=imagenet_subset model=alexnet
"""

from pathlib import Path

from alexnet.run.command import run_command

if __name__ == "__main__":
    run_command(Path(__file__).parent / "configs", "prepare", "alexnet.tasks.prepare:prepare")
