"""Epoch order and augmentation as functions of (seed, epoch, position), so that a run
killed at any step and resumed sees exactly the batches, crops and flips it would have
seen, and every DDP process gets the same number of batches.

torch's RandomSampler and the transforms draw from the global random state, which a
resumed process cannot recreate mid-epoch; torchdata's StatefulDataLoader restores the
order but not what the workers' transforms drew. Hence these small pieces:

- ``ShardSampler``: DistributedSampler's order (a permutation seeded by seed + epoch,
  padded by repeating so that every process gets the same count) used for one process
  too; it yields ``(index, epoch, padded)`` keys and can start mid-epoch.
- ``ShardOrderSampler``: the same keys for data stored in shards (prepared data): each
  process reads a contiguous run of an epoch's shuffled shards, so it fetches only its
  share of a remote store, in an order shuffled within that run.
- ``KeyedSamples``: a dataset read with those keys; a training sample's augmentation
  draws from a random state seeded by (seed, epoch, index), and a padding duplicate in
  an evaluation split gets the label ``IGNORE`` so that metrics count every image once
  (in training, as with DistributedSampler, duplicates are trained on).
- ``ResumesMidEpoch``: Lightning's public route to resuming mid-epoch, a stateful
  loader: it says how many batches of which epoch it has handed out (``state_dict``,
  which Lightning saves in every checkpoint) and, given that state on resume
  (``load_state_dict``), starts that epoch after them. ``ResumableLoader`` is such a
  DataLoader; alexnet.data.loading.on_device.DeviceBatches is another.
"""

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, get_worker_info

IGNORE = -100  # the label of a padding duplicate: cross_entropy and the metrics skip it

SampleKey = tuple[int, int, bool]  # (index, epoch, padded)


def mixed_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (SplitMix64-style mixing)."""
    value = 0x9E3779B97F4A7C15
    for part in parts:
        value = (value ^ (part & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        value ^= value >> 31
    return value & 0x7FFFFFFFFFFFFFFF


class ShardSampler(DistributedSampler):
    """This process's share of an epoch's order, as ``(index, epoch, padded)`` keys.

    Args:
        size: images in the split.
        shuffle: a new permutation each epoch (seeded by ``seed + epoch``).
        seed: the run's seed.
        rank, world_size: this process and the number of processes.
    """

    def __init__(self, size: int, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1):
        super().__init__(range(size), world_size, rank, shuffle=shuffle, seed=seed)
        self.start = 0  # keys of this epoch already consumed (set when resuming)

    def keys(self) -> list[SampleKey]:
        """Every key of this epoch for this process, padding included."""
        order = list(super().__iter__())  # DistributedSampler: seeded permutation, padded
        real = math.ceil((len(self.dataset) - self.rank) / self.num_replicas)  # unpadded share
        return [(index, self.epoch, position >= real) for position, index in enumerate(order)]

    def __iter__(self) -> Iterator[SampleKey]:
        start, self.start = self.start, 0
        return iter(self.keys()[start:])


class ShardOrderSampler(ShardSampler):
    """``ShardSampler``'s keys for data stored in shards of consecutive indices: each
    epoch the shards are shuffled (seeded by ``seed + epoch``), the images of that shard
    order are dealt to the processes in contiguous runs of equal length (padded, as
    DistributedSampler pads, by repeating from the start), and each process's run is
    shuffled (seeded by seed, epoch and rank). A process touches only the shards of its
    run: about 1/world_size of them, plus at most two it shares at the run's ends.

    Args:
        shard_sizes: images in each shard, in index order.
        shuffle, seed, rank, world_size: as ``ShardSampler``.
    """

    def __init__(
        self,
        shard_sizes: list[int],
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
    ):
        super().__init__(sum(shard_sizes), shuffle, seed, rank, world_size)
        self.shard_sizes = shard_sizes

    def keys(self) -> list[SampleKey]:
        starts = [0]
        for size in self.shard_sizes:
            starts.append(starts[-1] + size)
        shards = torch.arange(len(self.shard_sizes))
        if self.shuffle:
            order = torch.Generator().manual_seed(self.seed + self.epoch)
            shards = shards[torch.randperm(len(shards), generator=order)]
        sequence = torch.cat([torch.arange(starts[s], starts[s + 1]) for s in shards.tolist()])
        size = len(sequence)
        padded = sequence.repeat(math.ceil(self.total_size / size))[: self.total_size]
        positions = torch.arange(self.rank * self.num_samples, (self.rank + 1) * self.num_samples)
        if self.shuffle:
            mine = torch.Generator().manual_seed(mixed_seed(self.seed, self.epoch, self.rank))
            positions = positions[torch.randperm(len(positions), generator=mine)]
        return [(int(padded[p]), self.epoch, p >= size) for p in positions.tolist()]


class KeyedSamples(Dataset):
    """``dataset`` read with ``(index, epoch, padded)`` keys.

    Args:
        dataset: yields (image, label) for an integer index.
        seed: the run's seed.
        training: each sample's random transforms draw from a random state seeded by
            (seed, epoch, index), not the global one; otherwise padding is ignored.
    """

    def __init__(self, dataset: Dataset, seed: int, training: bool):
        self.dataset, self.seed, self.training = dataset, seed, training

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: SampleKey | int) -> tuple[Any, int]:
        # A plain index comes from a sampler Lightning put in (overfit_batches).
        index, epoch, padded = (key, 0, False) if isinstance(key, int) else key
        if not self.training:
            image, label = self.dataset[index]
            return image, IGNORE if padded else label
        seed = mixed_seed(self.seed, epoch, index)
        if get_worker_info() is not None:  # a loader worker: its random state is ours alone
            torch.default_generator.manual_seed(seed)
            return self.dataset[index]
        with torch.random.fork_rng(devices=[]):  # the main process: leave its state as it was
            torch.default_generator.manual_seed(seed)
            return self.dataset[index]


class ResumesMidEpoch:
    """A training loader Lightning resumes mid-epoch through its public stateful-loader
    route. Lightning does not fetch ahead from a loader whose length it knows, so when
    a checkpoint is saved the batches handed out are the batches trained on."""

    sampler: ShardSampler
    handed_out = 0  # batches of the current epoch handed out
    resume_at: tuple[int, int] | None = None  # (epoch, batches) of a restored checkpoint

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches": self.handed_out}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.resume_at = (state["epoch"], state["batches"])

    def first_batch(self) -> int:
        """Where this epoch starts: after the batches a restored checkpoint of this
        epoch had handed out, else at 0."""
        epoch, batches = self.resume_at or (-1, 0)
        self.resume_at = None
        self.handed_out = batches if epoch == getattr(self.sampler, "epoch", None) else 0
        return self.handed_out


class ResumableLoader(ResumesMidEpoch, DataLoader):
    """A DataLoader over ``ShardSampler`` keys that resumes an epoch where a checkpoint
    left it: the samples of the batches already trained on are not read again."""

    def __iter__(self) -> Iterator:
        start = self.first_batch()
        if hasattr(self.sampler, "start"):  # not when Lightning put in a sampler of its own
            self.sampler.start = start * self.batch_size
        for batch in super().__iter__():
            self.handed_out += 1
            yield batch
