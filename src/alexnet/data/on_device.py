"""Batches of datasets held whole as tensors: sliced by index from wherever the tensors
live (the training device with ``data.on_device=true``, host memory otherwise), moved
to the training device as they are (uint8, native size), and resized, augmented and
normalised there as whole batches. No DataLoader, no workers."""

import math
from collections.abc import Callable, Iterator

import torch

from alexnet.data.sampling import IGNORE, ShardSampler, mixed_seed

#: (raw batch on the training device, generator for training or None) → model input.
BatchPipeline = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def random_crop_flip(images: torch.Tensor, padding: int, generator=None) -> torch.Tensor:
    """Per image: a random ``H×W`` crop of the image extended by ``padding`` pixels on
    every side with copies of its edge pixels, and a horizontal flip with probability
    1/2 — RandomCrop(padding, padding_mode="edge") + RandomHorizontalFlip one image at
    a time, for a whole (B, C, H, W) batch of any dtype on its device. The edge copies
    add no frame of a value the image lacks (zero padding after normalisation is a grey
    frame that test images never show)."""
    b, c, h, w = images.shape
    device = images.device
    dy = torch.randint(0, 2 * padding + 1, (b,), device=device, generator=generator) - padding
    dx = torch.randint(0, 2 * padding + 1, (b,), device=device, generator=generator) - padding
    flip = torch.rand(b, device=device, generator=generator) < 0.5
    rows = (dy[:, None] + torch.arange(h, device=device)).clamp(0, h - 1)
    cols = (dx[:, None] + torch.arange(w, device=device)).clamp(0, w - 1)
    cols = torch.where(flip[:, None], cols.flip(-1), cols)
    batch = torch.arange(b, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return images[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


class DeviceBatches:
    """An epoch of (images, labels) batches sliced from whole-split tensors, in
    ``sampler``'s order (the same keys as the DataLoader path: every DDP process gets
    as many batches, padding duplicates of an evaluation split are labelled ``IGNORE``).

    Args:
        images, labels: the whole split (on the training device, or in host memory).
        batch_size: images per batch (per process).
        sampler: this process's keys of each epoch (Lightning calls its ``set_epoch``).
        pipeline: raw batch → model input, run on ``device``; training batches get a
            generator seeded by (seed, epoch, batch), so resuming mid-epoch repeats
            their augmentation exactly, evaluation batches ``None``.
        training: whether this is the training split.
        device: where batches are prepared (the training device; default: the tensors').
        batches_done: the batches of this epoch already trained on (see ResumableLoader).
    """

    batch_sampler = None  # what Lightning's checks of a DataLoader look for

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        sampler: ShardSampler,
        pipeline: BatchPipeline,
        training: bool,
        device: torch.device | None = None,
        batches_done: Callable[[], int] = lambda: 0,
    ):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.sampler, self.pipeline, self.training = sampler, pipeline, training
        self.device = device or images.device
        self.batches_done = batches_done

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        keys = self.sampler.keys()  # asked at the first batch, as ResumableLoader does
        for number in range(self.batches_done(), len(self)):
            chunk = keys[number * self.batch_size : (number + 1) * self.batch_size]
            index = torch.tensor([k[0] for k in chunk], device=self.images.device)
            images = self.images[index].to(self.device, non_blocking=True)
            labels = self.labels[index].to(self.device, non_blocking=True)
            generator = None
            if self.training:
                generator = torch.Generator(device=self.device)
                generator.manual_seed(mixed_seed(self.sampler.seed, self.sampler.epoch, number))
            else:  # padding duplicates are not counted
                padded = torch.tensor([k[2] for k in chunk], device=self.device)
                labels = torch.where(padded, torch.full_like(labels, IGNORE), labels)
            yield self.pipeline(images, generator), labels
