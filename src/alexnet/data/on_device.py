"""Small datasets held whole on the training device and batched there: no DataLoader,
no workers, no host-to-device copies; augmentation runs on a whole batch at once."""

import math
from collections.abc import Callable, Iterator

import torch

from alexnet.data.sampling import IGNORE, ShardSampler, mixed_seed

BatchFn = Callable[[torch.Tensor], torch.Tensor]
AugmentFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


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
    """An epoch of (images, labels) batches sliced from tensors already on the device,
    in ``sampler``'s order (the same keys as the DataLoader path: every DDP process gets
    as many batches, padding duplicates of an evaluation split are labelled ``IGNORE``).

    Args:
        images, labels: the whole split, on the training device (images uint8 or float).
        batch_size: images per batch (per process).
        sampler: this process's keys of each epoch (Lightning calls its ``set_epoch``).
        prepare: the batch pipeline for every split (to float, resize, normalise).
        augment: the training-only batch augmentation, applied before ``prepare``; it
            draws from a generator seeded by (seed, epoch, batch), so resuming mid-epoch
            repeats it exactly.
        batches_done: the batches of this epoch already trained on (see ResumableLoader).
    """

    batch_sampler = None  # what Lightning's checks of a DataLoader look for

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        sampler: ShardSampler,
        prepare: BatchFn,
        augment: AugmentFn | None = None,
        batches_done: Callable[[], int] = lambda: 0,
    ):
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.sampler, self.prepare, self.augment = sampler, prepare, augment
        self.batches_done = batches_done

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        keys = self.sampler.keys()  # asked at the first batch, as ResumableLoader does
        device = self.labels.device
        for number in range(self.batches_done(), len(self)):
            chunk = keys[number * self.batch_size : (number + 1) * self.batch_size]
            index = torch.tensor([k[0] for k in chunk], device=device)
            padded = torch.tensor([k[2] for k in chunk], device=device)
            images = self.images[index]
            images = images.float() / 255 if images.dtype == torch.uint8 else images
            labels = self.labels[index]
            if self.augment is not None:
                generator = torch.Generator(device=device)
                generator.manual_seed(mixed_seed(self.sampler.seed, self.sampler.epoch, number))
                images = self.augment(images, generator)
            else:  # evaluation: padding duplicates are not counted
                labels = torch.where(padded, torch.full_like(labels, IGNORE), labels)
            yield self.prepare(images), labels
