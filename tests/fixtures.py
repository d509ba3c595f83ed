"""Small datasets written in each dataset's real on-disk format, and a W&B log reader."""

import pickle
import time
from pathlib import Path

import numpy as np

# A closed port on loopback as every proxy, and no exceptions to it: every download
# fails at once, as with no network, even on a machine that has one (None: unset).
CLOSED_PORT = "http://127.0.0.1:9"
NO_NETWORK: dict[str, str | None] = {
    **{name: CLOSED_PORT for name in ("https_proxy", "http_proxy", "all_proxy")},
    **{name.upper(): CLOSED_PORT for name in ("https_proxy", "http_proxy", "all_proxy")},
    "no_proxy": None,
    "NO_PROXY": None,
}


def set_environment(monkeypatch, values: dict[str, str | None]) -> None:
    """Set (or, for None, unset) environment variables for the rest of a test."""
    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


CIFAR_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def write_cifar10(root: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """``root/cifar-10-batches-py/`` with five training batches, a test batch and
    ``batches.meta``, pickled like the real ones (uint8 rows of 3072 = R, G, B planes)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = [i % 10 for i in range(per_batch)]
        batch = {
            "batch_label": name,
            "labels": labels,
            "data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": CIFAR_CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


def read_wandb_log(run_dir: Path, wait_s: float = 60.0) -> list:
    """The records of a run's ``run-<id>.wandb`` file (a LevelDB-style log of protobuf
    ``Record`` messages after a 7-byte W&B header). wandb ships no Python reader for it
    any more, so this is the reader, written from the format. wandb's service process
    may still be writing the log's tail when the run's process has returned, so this
    reads again until the log holds its exit record and ends on a whole record."""
    (path,) = Path(run_dir).glob("run-*.wandb")
    deadline = time.monotonic() + wait_s
    while True:
        records = _whole_records(path.read_bytes())
        if records is not None and any(r.HasField("exit") for r in records):
            return records
        assert time.monotonic() < deadline, f"{path} is still incomplete after {wait_s} s"
        time.sleep(0.2)


def _whole_records(data: bytes) -> list | None:
    """The log's records, or None when its last chunk is not yet written in full."""
    from wandb.proto import wandb_internal_pb2 as pb

    block = 32768
    assert data[:4] == b":W&B", "not a W&B transaction log"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if kind == 0:
            break
        if pos + 7 + length > len(data):
            return None
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return None if pending else records


def write_image(path: Path, size=(48, 40), mode: str = "RGB", seed: int = 0) -> Path:
    """A small real image file in ``mode``, its format taken from the extension."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    if mode == "I;16":  # 16-bit grayscale, as some scanners and microscopes write
        image = Image.fromarray(pixels[..., 0].astype(np.uint16) * 257)
    else:
        image = Image.fromarray(pixels).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def write_class_tree(
    root: Path, classes: list[str], per_class: int, name="img_{:04d}.jpg", seed: int = 0
) -> Path:
    """``root/<class>/<name>`` JPEGs: per_class of each class."""
    for c, cls in enumerate(classes):
        for i in range(per_class):
            write_image(root / cls / name.format(i + 1), seed=seed + 1000 * c + i)
    return root


CALTECH_CLASSES = ["Faces_easy", "Leopards", "accordion", "airplanes"]


def write_caltech101(root: Path, per_class: int = 12) -> Path:
    """torchvision's layout: ``root/caltech101/101_ObjectCategories/<class>/image_0001.jpg``
    and the BACKGROUND_Google clutter folder, which is not a class. Some images are
    grayscale, as in the real dataset."""
    folder = root / "caltech101" / "101_ObjectCategories"
    write_class_tree(folder, CALTECH_CLASSES, per_class, name="image_{:04d}.jpg")
    write_class_tree(folder, ["BACKGROUND_Google"], 3, name="image_{:04d}.jpg")
    write_image(folder / "accordion" / "image_0001.jpg", mode="L")
    return root


IMAGENETTE_WNIDS = [
    "n01440764",
    "n02102040",
    "n02979186",
    "n03000684",
    "n03028079",
    "n03394916",
    "n03417042",
    "n03425413",
    "n03445777",
    "n03888257",
]


def write_imagenette(root: Path, per_class: int = 6) -> Path:
    """``root/imagenette2-160/{train,val}/<wnid>/*.JPEG``, as the archive extracts."""
    base = root / "imagenette2-160"
    write_class_tree(base / "train", IMAGENETTE_WNIDS, per_class, name="n_{:05d}.JPEG")
    write_class_tree(base / "val", IMAGENETTE_WNIDS, 2, name="ILSVRC2012_val_{:08d}.JPEG")
    return root


def write_ilsvrc(root: Path, wnids: list[str], per_class: int = 6) -> Path:
    """An ILSVRC-2012 tree: ``train/<wnid>/<wnid>_N.JPEG`` and class-folder ``val/``."""
    for wnid in wnids:
        write_class_tree(root / "train", [wnid], per_class, name=wnid + "_{}.JPEG")
        write_class_tree(root / "val", [wnid], 2, name="ILSVRC2012_val_{:08d}.JPEG")
    return root
