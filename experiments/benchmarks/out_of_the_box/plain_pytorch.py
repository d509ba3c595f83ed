"""The script a PyTorch user would write for a folder of small images: torchvision's
ImageFolder, resize to 32, pad-4 random crop and flip, the same mini AlexNet
(alexnet_mini, built here so that both sides train the same network), AdamW with a
one-cycle schedule, test top-1 of the last epoch's weights.

    python plain_pytorch.py ROOT --epochs 5
"""

import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from alexnet.models import create_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--workers", type=int, default=2)
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
    test_tf = transforms.Compose([transforms.Resize(32), transforms.ToTensor(), normalise])
    train = datasets.ImageFolder(f"{args.root}/train", train_tf)
    test = datasets.ImageFolder(f"{args.root}/test", test_tf)
    loader = DataLoader(train, args.batch_size, shuffle=True, num_workers=args.workers)
    model = create_model("alexnet_mini", num_classes=len(train.classes), in_channels=3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * len(loader)
    )
    for _ in range(args.epochs):
        model.train()
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in DataLoader(test, 256, num_workers=args.workers):
            correct += (model(images).argmax(1) == labels).sum().item()
    seconds = time.perf_counter() - started
    print(json.dumps({"test_top1": correct / len(test), "seconds": seconds}))


if __name__ == "__main__":
    main()
