"""Whole batches read raw (uint8, stored size) — sliced from tensors held in memory or on
the training device, or gathered from prepared shards — moved to the training device
as they are, and cropped, flipped, resized and normalised there as whole batches, with
random draws keyed by (seed, epoch, batch) so that a resumed run repeats them."""

import math
import os
from collections.abc import Callable, Iterable, Iterator
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.io import decode_jpeg
from torchvision.transforms import v2

from alexnet.data.loading.sampling import IGNORE, ResumesMidEpoch, ShardSampler, mixed_seed
from alexnet.data.loading.transforms import lighting_offsets
from alexnet.processes import start_worker

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


def random_crop(images: torch.Tensor, size: int, generator=None) -> torch.Tensor:
    """Per image: a ``size``×``size`` crop at a uniformly drawn position inside the image,
    horizontally flipped with probability 1/2: the paper's translations and reflections
    (RandomCrop(size) + RandomHorizontalFlip one image at a time), for a (B, C, H, W)
    batch of any dtype on its device. The draws are made for the whole batch. On a CPU
    the copies are slices, one per image, several times faster there than one gather
    over index tensors (68 → 4 ms for 64 images at 224 px); on a GPU one gather, one
    kernel instead of B."""
    b, _, h, w = images.shape
    device = images.device
    y = torch.randint(0, h - size + 1, (b,), device=device, generator=generator)
    x = torch.randint(0, w - size + 1, (b,), device=device, generator=generator)
    flip = torch.rand(b, device=device, generator=generator) < 0.5
    crop = crops_by_slices if device.type == "cpu" else crops_by_gather
    return crop(images, size, y, x, flip)


def crops_by_slices(images, size: int, y, x, flip) -> torch.Tensor:
    """The ``size`` crops at (``y``, ``x``), reflected where ``flip``: a slice each."""
    shape, layout = (len(images), images.shape[1], size, size), torch.channels_last
    out = torch.empty(shape, dtype=images.dtype, memory_format=layout)  # as the squares
    draws = zip(y.tolist(), x.tolist(), flip.tolist(), strict=True)
    for i, (top, left, mirrored) in enumerate(draws):
        patch = images[i, :, top : top + size, left : left + size]
        out[i] = patch.flip(-1) if mirrored else patch
    return out


def crops_by_gather(images, size: int, y, x, flip) -> torch.Tensor:
    """The same crops as ``crops_by_slices``, as one gather over index tensors."""
    device = images.device
    steps = torch.arange(size, device=device)
    rows, cols = y[:, None] + steps, x[:, None] + steps
    cols = torch.where(flip[:, None], cols.flip(-1), cols)
    batch = torch.arange(len(images), device=device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
    return images[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def ten_patches(images: torch.Tensor, size: int) -> torch.Tensor:
    """The paper's ten test patches of every image of a (B, C, H, W) batch, as
    (B, 10, C, size, size): the four corner and the centre patches, then their
    reflections (the order of alexnet.data.loading.transforms.TenPatches)."""
    five = torch.stack(v2.functional.five_crop(images, size), dim=1)
    return torch.cat([five, five.flip(-1)], dim=1)


#: indices → (uint8 images (B, C, H, W) or B JPEG files, labels): how a batch is read.
Reader = Callable[[list[int]], tuple[torch.Tensor | list[torch.Tensor], torch.Tensor]]


class TensorReader:
    """Batches sliced from whole-split tensors (on the training device or in host memory)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels

    def __call__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.tensor(indices, device=self.images.device)
        return self.images[index], self.labels[index]


class _ReadChunks(Dataset):
    """The batches of one epoch, each read whole by a loader worker."""

    def __init__(self, read: Reader, chunks: list[list[int]]):
        self.read, self.chunks = read, chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.read(self.chunks[number])


def to_device(images: torch.Tensor | list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """A raw batch on ``device``: a uint8 tensor moved there, or a list of JPEG files
    (1-D uint8) decoded there in one call (nvJPEG on a CUDA device)."""
    if isinstance(images, list):
        return torch.stack(decode_jpeg(images, device=device))
    return images.to(device, non_blocking=True)


class DeviceBatches(ResumesMidEpoch):
    """An epoch of (images, labels) batches read whole by ``read``, in ``sampler``'s
    order (the same keys as the DataLoader path: every DDP process gets as many
    batches, padding duplicates of an evaluation split are labelled ``IGNORE``), moved
    to the training device as they are (uint8, stored size) and prepared there.

    Args:
        read: indices → raw (images, labels) batch (see ``Reader``).
        batch_size: images per batch (per process).
        sampler: this process's keys of each epoch (Lightning calls its ``set_epoch``).
        pipeline: raw batch → model input, run on ``device``; training batches get a
            generator seeded by (seed, epoch, batch), so resuming mid-epoch repeats
            their augmentation exactly, evaluation batches ``None``.
        training: whether this is the training split.
        device: where batches are prepared (the training device; default: the CPU).
        num_workers: loader processes that read batches ahead (0: read in this process).
        start_method: how they start (multiprocessing's; None: its default, fork on
            Linux).
    """

    batch_sampler = None  # what Lightning's checks of a DataLoader look for

    def __init__(
        self,
        read: Reader,
        batch_size: int,
        sampler: ShardSampler,
        pipeline: BatchPipeline,
        training: bool,
        device: torch.device | None = None,
        num_workers: int = 0,
        start_method: str | None = None,
    ):
        self.read, self.batch_size = read, batch_size
        self.sampler, self.pipeline, self.training = sampler, pipeline, training
        self.device = device or torch.device("cpu")
        self.num_workers, self.start_method = num_workers, start_method

    def __len__(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        keys = self.sampler.keys()  # asked at the first batch, as ResumableLoader does
        first = self.first_batch()
        chunks = [keys[n * self.batch_size : (n + 1) * self.batch_size] for n in range(len(self))]
        chunks = chunks[first:]
        indices = [[key[0] for key in chunk] for chunk in chunks]
        raw: Iterable = map(self.read, indices)
        if self.num_workers:
            raw = DataLoader(
                _ReadChunks(self.read, indices),
                batch_size=None,
                num_workers=self.num_workers,
                multiprocessing_context=self.start_method,
                pin_memory=self.device.type == "cuda",
                prefetch_factor=4,
                worker_init_fn=partial(start_worker, command=os.getpid()),
                generator=torch.Generator().manual_seed(self.sampler.seed),  # not the global
            )
        for number, chunk, (images, labels) in zip(
            range(first, len(self)), chunks, raw, strict=True
        ):
            images = to_device(images, self.device)
            labels = labels.to(self.device, non_blocking=True)
            generator = None
            if self.training:
                generator = torch.Generator(device=self.device)
                generator.manual_seed(mixed_seed(self.sampler.seed, self.sampler.epoch, number))
            else:  # padding duplicates are not counted
                padded = torch.tensor([k[2] for k in chunk], device=self.device)
                labels = torch.where(padded, torch.full_like(labels, IGNORE), labels)
            self.handed_out += 1
            yield self.pipeline(images, generator), labels


class SquaresPipeline:
    """The image-file presets for batches of prepared squares (uint8 (B, 3, S, S), S the
    shorter side the per-image pipeline resizes to), pixel for pixel what that
    pipeline makes of the same square:

    - ``paper`` training: a random ``crop`` patch, a flip half the time, the PCA
      colour noise (std 0.1) — RandomCrop, RandomHorizontalFlip, PCALighting;
    - ``small`` training (S = crop): a random crop of the image extended by an eighth
      of its side with copies of its edge pixels, and a flip;
    - evaluation: the central patch, or ``views="ten_crop"``: the paper's ten patches;

    then scaled to [0, 1] and normalised with ``mean`` and ``std``. (``modern``'s
    RandomResizedCrop needs the whole image, not its central square: not offered.)
    """

    def __init__(self, preset: str, crop: int, mean, std, views: str = "center"):
        self.preset, self.crop, self.views = preset, crop, views
        self.mean, self.std = list(mean), list(std)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        offsets = torch.zeros(len(images), 3, device=images.device)
        if generator is not None and self.preset == "small":
            pixels = random_crop_flip(images, max(self.crop // 8, 1), generator)
        elif generator is not None:
            pixels = random_crop(images, self.crop, generator)
            alpha = torch.randn(len(images), 3, device=images.device, generator=generator)
            offsets = lighting_offsets(alpha * 0.1)
        elif self.views == "ten_crop":
            pixels = ten_patches(images, self.crop)
        else:
            pixels = v2.functional.center_crop(images, self.crop)
        # (pixels / 255 + offset − mean) / std as one multiply and one add, in place
        mean, std = (torch.tensor(v, device=images.device) for v in (self.mean, self.std))
        scale = (1 / (255 * std)).view(-1, 1, 1)
        shift = ((offsets - mean) / std).view(len(images), *[1] * (pixels.dim() - 4), 3, 1, 1)
        return empty_float(pixels.shape, pixels.device).copy_(pixels).mul_(scale).add_(shift)


def empty_float(shape: torch.Size, device: torch.device) -> torch.Tensor:
    """An uninitialised float32 tensor. On the CPU numpy allocates it: numpy asks the
    kernel for huge pages for large arrays, torch does not, and faulting in a fresh
    38 MB batch (64 × 3 × 224²) page by page took 20 ms on one core against 3 ms
    (experiments/benchmarks/prepared_data)."""
    if device.type == "cpu":
        return torch.from_numpy(np.empty(tuple(shape), dtype=np.float32))
    return torch.empty(shape, device=device)
