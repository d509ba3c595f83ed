"""Small datasets held whole on the training device and batched there: no DataLoader,
no workers, no host-to-device copies; augmentation runs on a whole batch at once."""

import math
from collections.abc import Callable, Iterator

import torch

BatchFn = Callable[[torch.Tensor], torch.Tensor]


def random_crop_flip(images: torch.Tensor, padding: int, generator=None) -> torch.Tensor:
    """Per image: a random ``H×W`` crop of the zero-padded image and a horizontal flip
    with probability 1/2 (what RandomCrop(padding) + RandomHorizontalFlip do one image
    at a time), for a whole (B, C, H, W) batch on its device."""
    b, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    device = images.device
    dy = torch.randint(0, 2 * padding + 1, (b,), device=device, generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (b,), device=device, generator=generator)
    rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
    batch = torch.arange(b, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    cropped = padded[batch, channel, rows, cols]
    flip = torch.rand(b, device=device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], cropped.flip(-1), cropped)


class DeviceBatches:
    """An epoch of (images, labels) batches sliced from tensors already on the device.

    Args:
        images, labels: the whole split, on the training device (images uint8 or float).
        batch_size: images per batch (per process).
        prepare: the batch pipeline for every split (to float, resize, normalise).
        augment: the training-only batch augmentation, applied before ``prepare``.
        shuffle: a new permutation each epoch, from ``seed`` and the epoch number.
        rank, world_size: this process's share under DDP (every rank keeps the
            whole split and takes every ``world_size``-th image of the permutation).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        prepare: BatchFn,
        augment: BatchFn | None = None,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.prepare, self.augment, self.shuffle = prepare, augment, shuffle
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(math.ceil(len(self.labels) / self.world_size) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if self.shuffle:
            order = torch.randperm(
                n, generator=torch.Generator().manual_seed(self.seed + self.epoch)
            )
        else:
            order = torch.arange(n)
        self.epoch += 1
        order = order[self.rank :: self.world_size].to(self.labels.device)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            images = self.images[index]
            images = images.float() / 255 if images.dtype == torch.uint8 else images
            if self.augment is not None:
                images = self.augment(images)
            yield self.prepare(images), self.labels[index]
