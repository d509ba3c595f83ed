"""The script a PyTorch user would write for a folder of small images, doing the work
the default command does: torchvision's ImageFolder, resize to 32, pad-4 random crop
and flip, the same mini AlexNet (alexnet_mini, built here so that both sides train the
same network), AdamW with a one-cycle schedule; after every epoch it validates on
val/, logs the epoch's figures to a CSV file and saves the last and the best weights
(by validation top-1); at the end it tests the best weights on test/.

    python plain_pytorch.py ROOT --epochs 5 [--out DIR] [--first-step FILE]

``--first-step FILE``: write the wall-clock time (time.time()) of the first training
step to FILE, for the benchmark's start-up figure.
"""

import argparse
import csv
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from alexnet.models import create_model


def accuracy(model: torch.nn.Module, loader: DataLoader) -> tuple[float, float]:
    """Top-1 and mean loss of ``model`` on ``loader``."""
    model.eval()
    correct, loss, seen = 0, 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(images)
            loss += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
    return correct / seen, loss / seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("plain_run"))
    parser.add_argument("--first-step", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    torch.manual_seed(0)
    normalise = transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    train_tf = transforms.Compose(
        [
            transforms.Resize(32),
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalise,
        ]
    )
    eval_tf = transforms.Compose([transforms.Resize(32), transforms.ToTensor(), normalise])
    train = datasets.ImageFolder(f"{args.root}/train", train_tf)
    loader = DataLoader(train, args.batch_size, shuffle=True, num_workers=args.workers)
    val, test = (
        DataLoader(
            datasets.ImageFolder(f"{args.root}/{split}", eval_tf), 256, num_workers=args.workers
        )
        for split in ("val", "test")
    )
    model = create_model("alexnet_mini", num_classes=len(train.classes), in_channels=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * len(loader)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    best = -1.0
    with open(args.out / "metrics.csv", "w", newline="") as log:
        rows = csv.writer(log)
        rows.writerow(["epoch", "train_loss", "val_acc", "val_loss"])
        for epoch in range(args.epochs):
            model.train()
            total = 0.0
            for step, (images, labels) in enumerate(loader):
                if args.first_step and epoch == step == 0:
                    args.first_step.write_text(repr(time.time()))
                loss = F.cross_entropy(model(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item()
            val_acc, val_loss = accuracy(model, val)
            rows.writerow([epoch, total / len(loader), val_acc, val_loss])
            log.flush()
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
            torch.save(state, args.out / "last.pt")
            if val_acc > best:
                best = val_acc
                torch.save(state, args.out / "best.pt")
    model.load_state_dict(torch.load(args.out / "best.pt", weights_only=True)["model"])
    test_top1, _ = accuracy(model, test)
    seconds = time.perf_counter() - started
    print(json.dumps({"test_top1": test_top1, "seconds": seconds}))


if __name__ == "__main__":
    main()
