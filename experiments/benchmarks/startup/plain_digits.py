"""The script a PyTorch user would write for the default run's job (`python train.py`:
alexnet_mini on scikit-learn's digits), doing the same work: a stratified 70/15/15
split, the images resized to 32 px (bilinear, antialiased) and standardised with the
training split's statistics, once; AdamW (lr 2e-3, weight decay 0.05) with a 0.3-epoch
warm-up and a per-batch cosine, label smoothing 0.1, batch 64, 8 epochs; after every
epoch it validates, prints a line, appends the epoch's figures to a CSV file and saves
the last and the best weights (by validation top-1); at the end it tests the best
weights and prints a table. The network is the project's alexnet_mini, built here, so
that both sides train the same one.

    python plain_digits.py [--epochs 8] [--steps N] [--out DIR] [--wandb]

It prints, last, one JSON line: the time since the process started at the end of each
phase (``phases``: imports, data set-up, model, first batch, first step) and the test
top-1. ``--steps N``: stop after N training steps (no validation or test), as the
one-step default run does. ``--wandb``: also log the same figures to an offline W&B
run (started before the first step, finished at the end), as the default run does.
"""

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402  (after the clock: its imports are a phase)
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torchvision.transforms.v2 import functional as TF  # noqa: E402

from alexnet.models import create_model  # noqa: E402
from alexnet.startup import STARTED as PROCESS_STARTED  # noqa: E402

phases: dict[str, float] = {}


def mark(phase: str) -> None:
    phases[phase] = time.monotonic() - PROCESS_STARTED


def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor):
    """(top-1, mean loss) of ``model`` on the images, in batches of 256."""
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(batch) for batch in images.split(256)])
    model.train()
    return (logits.argmax(1) == labels).float().mean().item(), F.cross_entropy(
        logits, labels
    ).item()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("plain_run"))
    parser.add_argument("--wandb", action="store_true")
    args = parser.parse_args()
    mark("imports")
    args.out.mkdir(parents=True, exist_ok=True)
    run = None
    if args.wandb:
        import wandb

        run = wandb.init(project="plain", dir=args.out, mode="offline", config=vars(args))
    torch.manual_seed(42)
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) * 255 / 16
    labels = torch.tensor(digits.target)
    positions = list(range(len(labels)))
    train, held = train_test_split(positions, test_size=0.3, stratify=digits.target, random_state=0)
    val, test = train_test_split(held, test_size=0.5, stratify=digits.target[held], random_state=0)
    images = TF.resize(images, [32, 32], antialias=True)
    mean, std = images[train].mean(), images[train].std()
    images = (images - mean) / std
    x_train, y_train = images[train], labels[train]
    mark("data set-up")
    model = create_model("alexnet_mini", num_classes=10, in_channels=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    steps_per_epoch = math.ceil(len(train) / 64)
    total, warmup = args.epochs * steps_per_epoch, round(0.3 * steps_per_epoch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (
            0.01 + 0.99 * s / warmup
            if s < warmup
            else 0.5 * (1 + math.cos(math.pi * (s - warmup) / (total - warmup)))
        ),
    )
    mark("model")
    best, steps = -1.0, 0
    with open(args.out / "metrics.csv", "w", newline="") as log:
        rows = csv.writer(log)
        rows.writerow(["epoch", "step", "train_loss", "val_acc", "val_loss"])
        for epoch in range(args.epochs):
            order = torch.randperm(len(y_train))
            for batch in order.split(64):
                if steps == 0:
                    mark("first batch")
                loss = F.cross_entropy(model(x_train[batch]), y_train[batch], label_smoothing=0.1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                steps += 1
                if steps == 1:
                    mark("first step")
                if steps % 10 == 0:
                    rows.writerow([epoch, steps, loss.item(), "", ""])
                    if run:
                        run.log({"train/loss": loss.item(), "step": steps})
                if steps == args.steps:
                    break
            if steps == args.steps:
                break
            val_acc, val_loss = evaluate(model, images[val], labels[val])
            print(f"epoch {epoch + 1}/{args.epochs} val loss {val_loss:.4f} top-1 {val_acc:.2%}")
            rows.writerow([epoch, steps, "", val_acc, val_loss])
            if run:
                run.log({"val/acc": val_acc, "val/loss": val_loss, "epoch": epoch, "step": steps})
            log.flush()
            torch.save(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict()},
                args.out / "last.pt",
            )
            if val_acc > best:
                best = val_acc
                torch.save({"model": model.state_dict()}, args.out / "best.pt")
    test_acc = None
    if args.steps is None:
        model.load_state_dict(torch.load(args.out / "best.pt", weights_only=True)["model"])
        test_acc, test_loss = evaluate(model, images[test], labels[test])
        print(
            f"split  top-1 acc    loss\nval   {best:9.2%}\ntest  {test_acc:9.2%}  {test_loss:.4f}"
        )
        if run:
            run.summary.update({"test/acc": test_acc, "test/loss": test_loss})
    if run:
        run.finish()
    print(json.dumps({"phases": phases, "test_top1": test_acc}))


if __name__ == "__main__":
    main()
