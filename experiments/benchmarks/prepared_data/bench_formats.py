"""Shard formats for the prepared 256-pixel squares, measured on the same images.

The training split of a prepared copy (bench_prepared.py or prepare.py makes one) is
written again as LitData chunks (``litdata.optimize``, raw uint8 arrays) and as
WebDataset tar shards (one ``.npy`` per image), and each format is read in a shuffled
order as batches of 64 raw (64, 3, 256, 256) uint8 tensors by one process with one
torch thread: what the training process's loader does before the batch goes to the
device. The figures: writing time, size on disk, batches per second per core.

mosaicml-streaming (MDS shards) is measured where it is installed: 0.13 requires
numpy < 2.2 and this project numpy ≥ 2.4, so it needs an environment of its own (the
README beside this file makes one); elsewhere its row says why it is missing.

    python experiments/benchmarks/prepared_data/bench_formats.py PREPARED_TRAIN_FOLDER
        [--work DIR] [--seconds 10]
"""

import argparse
import importlib
import importlib.metadata
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from alexnet.data.loading.sampling import ShardOrderSampler
from alexnet.data.storage.prepared import PreparedSplit, ShardStore

BATCH = 64


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def per_second(batches: Callable[[], Iterable], seconds: float) -> float:
    """Images per second over whole passes of ``batches()`` for at least ``seconds``."""
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for images in batches():
            assert images.dtype == torch.uint8 and images.shape[1] == 3
            count += len(images)
    return count / (time.perf_counter() - started)


def ours(split: PreparedSplit) -> Callable[[], Iterable]:
    sampler = ShardOrderSampler(split.shard_sizes(), shuffle=True, seed=0)

    def batches() -> Iterable:
        keys = [k[0] for k in sampler.keys()]
        for start in range(0, len(keys), BATCH):
            yield split(keys[start : start + BATCH])[0]

    return batches


def litdata_copy(split: PreparedSplit, folder: Path) -> Callable[[], Iterable]:
    import litdata

    litdata.optimize(
        fn=_image_and_label,
        inputs=[(str(split.store.location), i) for i in range(len(split))],
        output_dir=str(folder),
        chunk_bytes="256MB",
        num_workers=1,
    )
    dataset = litdata.StreamingDataset(str(folder), shuffle=True, seed=0)

    def batches() -> Iterable:
        loader = litdata.StreamingDataLoader(dataset, batch_size=BATCH, num_workers=0)
        for batch in loader:
            yield batch["image"].permute(0, 3, 1, 2)

    return batches


def _image_and_label(item: tuple[str, int]) -> dict:
    location, index = item
    image, label = PreparedSplit(ShardStore(location, None))[index]
    return {"image": image.permute(1, 2, 0).numpy(), "label": label}


def webdataset_copy(split: PreparedSplit, folder: Path) -> Callable[[], Iterable]:
    import webdataset as wds

    folder.mkdir(parents=True)
    with wds.ShardWriter(str(folder / "shard-%05d.tar"), maxcount=1024, verbose=0) as sink:
        for index in range(len(split)):
            image, label = split[index]
            sink.write({"__key__": f"{index:08d}", "npy": image.numpy(), "cls": label})
    urls = [str(p) for p in sorted(folder.glob("*.tar"))]

    def batches() -> Iterable:
        pipeline = (
            wds.WebDataset(urls, shardshuffle=len(urls), empty_check=False)
            .shuffle(1000)
            .decode()
            .to_tuple("npy", "cls")
            .batched(BATCH)
        )
        for images, _ in pipeline:
            yield torch.from_numpy(np.asarray(images))

    return batches


def streaming_copy(split: PreparedSplit, folder: Path) -> Callable[[], Iterable]:
    from streaming import MDSWriter, StreamingDataset
    from torch.utils.data import DataLoader

    columns = {"image": f"ndarray:uint8:{split.size},{split.size},3", "label": "int"}
    with MDSWriter(out=str(folder), columns=columns, size_limit=1 << 28) as writer:
        for index in range(len(split)):
            image, label = split[index]
            writer.write({"image": image.permute(1, 2, 0).numpy(), "label": label})
    dataset = StreamingDataset(local=str(folder), shuffle=True, shuffle_seed=0, batch_size=BATCH)

    def batches() -> Iterable:
        for batch in DataLoader(dataset, batch_size=BATCH, num_workers=0):
            yield batch["image"].permute(0, 3, 1, 2)

    return batches


FORMATS = {  # name: (module, distribution, writer of the copy)
    "LitData": ("litdata", "litdata", litdata_copy),
    "WebDataset": ("webdataset", "webdataset", webdataset_copy),
    "mosaicml-streaming": ("streaming", "mosaicml-streaming", streaming_copy),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prepared", type=Path, help="a prepared split folder (…/train)")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_formats_"))
    torch.set_num_threads(1)
    split = PreparedSplit(ShardStore(str(args.prepared), None))
    rows = [("numpy shards, memory-mapped (ours)", 0.0, size_of(args.prepared), ours(split))]
    missing = []
    for name, (module, distribution, make) in FORMATS.items():
        try:
            importlib.import_module(module)
        except ImportError as err:
            missing.append(f"{name}: not measured ({err})")
            continue
        version = importlib.metadata.version(distribution)
        started = time.perf_counter()
        batches = make(split, work / name)
        rows.append(
            (f"{name} {version}", time.perf_counter() - started, size_of(work / name), batches)
        )
    print(f"{len(split)} images of 256×256×3 uint8, batches of {BATCH}, one core\n")
    print("| format | writing s | MiB on disk | img/s (one core) |")
    print("| --- | --- | --- | --- |")
    for name, writing, size, batches in rows:
        rate = per_second(batches, args.seconds)
        print(f"| {name} | {writing:.1f} | {size / 2**20:.0f} | {rate:.0f} |")
    print("\n".join(["", *missing]) if missing else "")


if __name__ == "__main__":
    main()
