"""``python -m alexnet.upgrade OLD.ckpt NEW.ckpt``: convert a checkpoint of alexnet-lab
before 0.2 into this format (alexnet.tasks.upgrade)."""

import argparse
from pathlib import Path

from alexnet.console import inform
from alexnet.run.cli import user_errors_exit_2
from alexnet.tasks.upgrade import upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split(":")[1].strip().split(" (")[0])
    parser.add_argument("old", type=Path, help="a checkpoint of alexnet-lab before 0.2")
    parser.add_argument("new", type=Path, help="where to write it in this format")
    args = parser.parse_args(argv)
    with user_errors_exit_2():
        inform(f"wrote {upgrade(args.old, args.new)}")


if __name__ == "__main__":
    main()
