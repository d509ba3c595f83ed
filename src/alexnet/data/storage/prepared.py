"""Image datasets prepared once at the paper's resolution (section 2: "we down-sampled
the images to a fixed resolution of 256 × 256 ... rescaled the image such that the
shorter side was of length 256, and then cropped out the central 256×256 patch"), so
that training reads raw pixels instead of decoding full-size JPEGs every epoch.

A prepared split is a folder of plain files (numpy's ``.npy`` format, read as memory
maps; chosen against LitData, WebDataset and mosaicml-streaming by
experiments/benchmarks/prepared_data):

    manifest.json        written last: the split is complete when it exists
    source.json          written first: the digest of the source files it is made of
    labels.npy           int64 (N,)
    shard-00000.npy ...  uint8 (n, size, size, 3), ``shard_images`` images each; or, as
                         JPEG (``quality`` set), the n files end to end, uint8 (bytes,),
    shard-00000.ends.npy and where each ends, int64 (n,)

Raw squares take 192 KiB an image at 256 px (ImageNet's 1.28 M: 246 GB); JPEG at
quality 90 about a tenth, paid for with a decode each time an image is read (by the
loader workers on a CPU, by nvJPEG in one call for the whole batch on a GPU).

The folder is ``<data.prepared.dir>/<root's name>-<digest of the sample list and size>/<split>``:
under the data directory, never in the user's own folder. Preparing is resumable
(each shard is written whole, by rename) and refuses with one line when the source
files changed since it started (their paths, sizes and modification times).

A prepared dataset may also be read from a shared path or object storage (any fsspec
URL: ``s3://bucket/imagenet100``, with s3fs installed); its shards are then fetched,
one at a time as they are first needed, into a local cache kept under the URL and the
split's manifest (which holds the source digest).
"""

import copy
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import Dataset
from torchvision.io import decode_jpeg
from torchvision.transforms import v2

from alexnet.atomic import partial_path, remove_stale_partials, write_atomically
from alexnet.data.storage.files import Sample, load_rgb
from alexnet.errors import UserError
from alexnet.processes import start_worker

FORMAT_VERSION = 1
MANIFEST, SOURCE, LABELS = "manifest.json", "source.json", "labels.npy"
DATASET_INFO = "dataset.json"  # a prepared copy's classes, preset, size, statistics, source


def copies(folder: Path) -> list[dict]:
    """The prepared copies in ``folder``: name, source folder, images, MiB, when last
    written."""
    found = []
    for info in sorted(folder.glob(f"*/{DATASET_INFO}")):
        copy = info.parent
        counts = [json.loads(m.read_text())["count"] for m in copy.glob(f"*/{MANIFEST}")]
        found.append(
            {
                "name": copy.name,
                "source": json.loads(info.read_text()).get("source", "?"),
                "images": sum(counts),
                "MiB": sum(f.stat().st_size for f in copy.rglob("*") if f.is_file()) / 2**20,
                "written": info.stat().st_mtime,
            }
        )
    return found


def shard_name(number: int) -> str:
    return f"shard-{number:05d}.npy"


def digest(value: object) -> str:
    """A short stable digest of a JSON-able value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def shard_sources(samples: Sequence[Sample], shard_images: int) -> list[str]:
    """The digest of each shard's files: their paths, labels, sizes, modification times."""
    stamps = []
    for path, label in samples:
        stat = os.stat(path)
        stamps.append((os.fsencode(path).hex(), label, stat.st_size, stat.st_mtime_ns))
    return [digest(stamps[n : n + shard_images]) for n in range(0, len(stamps), shard_images)]


def prepared_folder(base: Path, name: str, source: Path, size: int, quality: int | None) -> Path:
    """Where the prepared copy ``name`` of the images in ``source`` at ``size`` pixels
    (raw, or JPEG of ``quality``) lives under ``base``: one copy per source folder and
    size, brought up to date when the folder changes."""
    return base / f"{name}-{digest([FORMAT_VERSION, os.path.realpath(source), size, quality])}"


def square_pixels(path: str, size: int, max_pixels: int, quality: int | None) -> np.ndarray:
    """The image at ``path`` as the paper prepared it: RGB, shorter side to ``size``,
    the central ``size``×``size`` square; (size, size, 3) uint8 — the same steps (and
    so the same pixels) as the per-image pipeline's Resize + CenterCrop — or with
    ``quality``, that square as a JPEG file's bytes (1-D uint8)."""
    image = load_rgb(path, max_pixels)
    square = v2.CenterCrop(size)(v2.Resize(size, antialias=True)(image))
    if quality is None:
        return np.asarray(square, dtype=np.uint8)
    encoded = io.BytesIO()
    square.save(encoded, format="JPEG", quality=quality)
    return np.frombuffer(encoded.getvalue(), dtype=np.uint8)


def ends_name(number: int) -> str:
    return f"shard-{number:05d}.ends.npy"


def prepare_split(
    samples: Sequence[Sample],
    folder: Path,
    size: int,
    shard_images: int,
    max_pixels: int,
    workers: int,
    description: str,
    quality: int | None = None,
) -> None:
    """Write ``samples`` into ``folder`` as a prepared split, raw or (``quality``) as
    JPEG: nothing to do when it is complete and its images unchanged; the shards a
    killed preparation finished are kept, and when images were added, removed or
    changed, the shards whose images are the same (the rest are written again)."""
    sources = shard_sources(samples, shard_images)
    source = digest(sources)
    recorded = folder / SOURCE
    before = json.loads(recorded.read_text()) if recorded.exists() else {}
    if (folder / MANIFEST).exists() and before.get("source") == source:
        return
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(folder)  # what a killed preparation was writing
    (folder / MANIFEST).unlink(missing_ok=True)  # incomplete until it is written again
    for shard in folder.glob("shard-*.npy"):  # of other images, or no more
        number = int(shard.name.split("-")[1].split(".")[0])
        if before.get("shards", [])[number : number + 1] != sources[number : number + 1]:
            shard.unlink()
    recorded_text = json.dumps({"source": source, "shards": sources}).encode()
    write_atomically(recorded, lambda file: file.write(recorded_text))
    todo = [n for n in range(len(sources)) if not (folder / shard_name(n)).exists()]
    load = partial(square_pixels, size=size, max_pixels=max_pixels, quality=quality)
    pool = ProcessPoolExecutor(max(workers, 1), initializer=start_worker)
    try:
        write_shards(samples, folder, todo, partial(pool.map, load, chunksize=4), shard_images,
                     quality, description)  # fmt: skip
    finally:  # stopped (Ctrl-C, SIGTERM, an error): the images not begun are not read
        pool.shutdown(cancel_futures=True)
    labels = np.array([label for _, label in samples], dtype=np.int64)
    write_atomically(folder / LABELS, partial(np.save, arr=labels))
    manifest = {"version": FORMAT_VERSION, "source": source, "count": len(samples), "size": size}
    manifest |= {"shard_images": shard_images, "jpeg_quality": quality}
    write_atomically(folder / MANIFEST, lambda file: file.write(json.dumps(manifest).encode()))


def write_shards(
    samples: Sequence[Sample],
    folder: Path,
    todo: list[int],
    load: Callable[[list[str]], Iterator[np.ndarray]],
    shard_images: int,
    quality: int | None,
    description: str,
) -> None:
    """Shards ``todo`` of ``samples``, each image made by ``load`` (in worker processes),
    each shard written whole; a progress bar over all the images."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=True) as progress:
        task = progress.add_task(description, total=len(samples))
        progress.advance(task, len(samples) - sum(_count(samples, n, shard_images) for n in todo))
        for number in todo:
            images = []
            for image in load(
                [path for path, _ in samples[number * shard_images :][:shard_images]]
            ):
                images.append(image)
                progress.advance(task)
            if quality is not None:  # the ends first: the shard is there when its bytes are
                ends = np.cumsum([len(image) for image in images])
                write_atomically(folder / ends_name(number), partial(np.save, arr=ends))
            pixels = np.concatenate(images) if quality is not None else np.stack(images)
            write_atomically(folder / shard_name(number), partial(np.save, arr=pixels))


def _count(samples: Sequence[Sample], number: int, shard_images: int) -> int:
    return len(samples[number * shard_images :][:shard_images])


class ShardStore:
    """The files of a prepared folder: a local path, or an fsspec URL whose files are
    fetched into ``cache`` (each once, whole, by rename) when first read, under a key of
    the URL and ``version`` (the split's manifest: a copy prepared again at the same URL
    is fetched again, never mixed with the old one's files). A remote store that does
    not answer within ``timeout_s`` (twice) is an error of one line, as is any other
    failure to read it: no bucket, no credentials, access denied, endpoint down."""

    def __init__(self, location: str, cache: Path | None, version: str = "", timeout_s: float = 30):
        self.location, self.cache, self.version = location, cache, version
        self.remote = "://" in location and not location.startswith("file://")
        self.timeout_s = timeout_s
        if self.remote and cache is None:
            raise UserError(f"reading {location} needs a local cache folder (data.cache_dir)")

    def pinned(self, version: str) -> "ShardStore":
        """This store, its fetched files cached under ``version``."""
        return ShardStore(self.location, self.cache, version, self.timeout_s)

    def read_text(self, name: str) -> str | None:
        """The small file ``name`` read afresh, never from the cache; None if missing."""
        if not self.remote:
            path = self.path(name)
            return path.read_text() if path.exists() else None
        try:
            return self._remote_file(name, lambda fs, url: fs.cat_file(url)).decode()
        except FileNotFoundError:
            return None

    def path(self, name: str) -> Path:
        """A local path to the file ``name`` of the store (fetched first if remote)."""
        if not self.remote:
            return Path(self.location.removeprefix("file://")) / name
        local = self.cache / digest([self.location, self.version]) / name
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(local.parent)  # what a killed fetch was writing
            fetching = partial_path(local)
            try:
                self._remote_file(name, lambda fs, url: fs.get(url, str(fetching)))
            except FileNotFoundError:
                raise UserError(
                    f"{self.location}/{name} is missing: upload the whole copy"
                ) from None
            os.replace(fetching, local)
        return local

    def _remote_file(self, name: str, read):
        """``read(filesystem, url)`` of the remote file ``name``: a missing file is a
        FileNotFoundError, any other failure a UserError (botocore's, which s3fs passes
        on, are no OSErrors)."""
        import fsspec  # Lightning's dependency; s3fs and the like plug into it

        url = f"{self.location.rstrip('/')}/{name}"
        try:
            options = self.options(fsspec.utils.get_protocol(self.location))
            fs, root = fsspec.core.url_to_fs(self.location, **options)
            return read(fs, f"{root.rstrip('/')}/{name}")
        except FileNotFoundError as err:
            if "bucket" not in str(err).lower():
                raise
            raise UserError(f"cannot read {url}: {err}: check the bucket's name") from None
        except Exception as err:  # whatever the store raises: one line
            reason = f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
            raise UserError(
                f"cannot read {url} ({reason}): check the URL, your credentials and the "
                "endpoint (AWS_ENDPOINT_URL), or give data.prepared.timeout_s more time"
            ) from None

    def options(self, protocol: str) -> dict:
        """fsspec's options for the store: S3's waits cut from botocore's 60 s a try."""
        if protocol not in ("s3", "s3a"):
            return {}
        config = {"connect_timeout": self.timeout_s, "read_timeout": self.timeout_s}
        return {"config_kwargs": {**config, "retries": {"max_attempts": 2}}}


class PreparedSplit(Dataset):
    """A prepared split, read by whole batches (calling it with their indices) as raw
    uint8 (B, 3, S, S).

    Args:
        store: where its files are.
        views: what evaluation makes of an image: ``center`` or ``ten_crop``.
        indices: read only these images of the split (None: all of them).
    """

    def __init__(self, store: ShardStore, views: str = "center", indices: list[int] | None = None):
        text = store.read_text(MANIFEST)
        if text is None:
            raise UserError(f"no prepared split at {store.location} ({MANIFEST} is missing)")
        manifest = json.loads(text)
        if manifest.get("version") != FORMAT_VERSION:
            raise UserError(
                f"{store.location} was prepared in format {manifest.get('version')}; "
                f"this version reads format {FORMAT_VERSION}: prepare it again"
            )
        self.store, self.views, self.indices = store.pinned(text), views, indices
        self.count, self.size, self.source = manifest["count"], manifest["size"], manifest["source"]
        self.shard_images, self.quality = manifest["shard_images"], manifest["jpeg_quality"]
        self.labels = np.load(self.store.path(LABELS))
        self.shards: dict[int, np.ndarray] = {}
        self.ends: dict[int, np.ndarray] = {}
        #: JPEG shards: decode where they are read (the loader workers), or leave the
        #: files for the training device to decode (set for a CUDA device)
        self.decode_here = True

    def __len__(self) -> int:
        return self.count if self.indices is None else len(self.indices)

    def restricted(self, indices: list[int]) -> "PreparedSplit":
        """This split, only the images ``indices``."""
        subset = copy.copy(self)
        mine = self.indices
        subset.indices = list(indices) if mine is None else [mine[i] for i in indices]
        return subset

    def shard_sizes(self) -> list[int]:
        full, rest = divmod(self.count, self.shard_images)
        return [self.shard_images] * full + ([rest] if rest else [])

    def shard(self, number: int) -> np.ndarray:
        if number not in self.shards:
            path = self.store.path(shard_name(number))
            self.shards[number] = np.load(path, mmap_mode="r")
        return self.shards[number]

    def __call__(self, indices: list[int]) -> tuple[torch.Tensor | list, torch.Tensor]:
        """The images and labels of ``indices``: (B, 3, S, S) uint8 — or, from JPEG
        shards with ``decode_here`` false, the B files as 1-D uint8 tensors — and (B,)
        int64 labels."""
        index = np.asarray(indices, dtype=np.int64)
        if self.indices is not None:
            index = np.asarray(self.indices, dtype=np.int64)[index]
        labels = torch.from_numpy(self.labels[index])
        shard, offset = np.divmod(index, self.shard_images)
        if self.quality is not None:
            files = [self.jpeg(int(s), int(o)) for s, o in zip(shard, offset, strict=True)]
            return (torch.stack(decode_jpeg(files)) if self.decode_here else files), labels
        pixels = np.empty((len(index), self.size, self.size, 3), dtype=np.uint8)
        for number in np.unique(shard):
            chosen = shard == number
            pixels[chosen] = self.shard(int(number))[offset[chosen]]
        return torch.from_numpy(pixels).permute(0, 3, 1, 2), labels

    def jpeg(self, number: int, offset: int) -> torch.Tensor:
        """The JPEG file of image ``offset`` of shard ``number``, as a 1-D uint8 tensor."""
        if number not in self.ends:
            self.ends[number] = np.load(self.store.path(ends_name(number)))
        ends = self.ends[number]
        start = ends[offset - 1] if offset else 0
        return torch.from_numpy(np.array(self.shard(number)[start : ends[offset]]))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        images, labels = self([index])
        return images[0], int(labels[0])
