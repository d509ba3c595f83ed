"""Image files on disk: finding them in class folders, checking them, loading them as RGB.

Bad files, decided once for every dataset:
- files whose extension is not an image's (``.txt``, ``.DS_Store``, ...) are ignored;
- zero-byte files and files PIL cannot identify as an image are *skipped*: counted,
  listed in ``skipped_images.txt`` in the run directory, and reported in one warning;
- a truncated image (its header reads, its data stops early) is *used*, the missing
  part left grey, as PIL does with ``LOAD_TRUNCATED_IMAGES``;
- a file that cannot be opened when its batch is loaded (with ``check_files=false``,
  or changed since the scan) stops the run with one line naming it: delete or replace it.
An empty class folder, or a split left with no images, is an error.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError
from torch.utils.data import Dataset

from alexnet.errors import UserError

ImageFile.LOAD_TRUNCATED_IMAGES = True
IMAGE_EXTENSIONS = (
    ".jpg",
    ".jpeg",
    ".png",
    ".ppm",
    ".bmp",
    ".pgm",
    ".tif",
    ".tiff",
    ".webp",
    ".gif",
)

Sample = tuple[str, int]  # (path, class index)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB: grayscale, palette, CMYK, 16/32-bit integer
    (rescaled from its own range), and alpha composited over white."""
    if image.mode.startswith(("I", "F")):
        image = image.convert("F")
        low, high = image.getextrema()
        image = image.point(lambda v: (v - low) * (255.0 / max(high - low, 1e-12))).convert("L")
    if image.mode in ("P", "PA", "LA"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def load_rgb(path: str) -> Image.Image:
    """Decode ``path`` as RGB; a file that cannot be decoded is a UserError naming it."""
    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise UserError(f"cannot decode image {path} ({err}): delete or replace it") from None


def readable(path: Path) -> bool:
    """Whether ``path`` is a non-empty file whose header PIL recognises (cheap: no decode)."""
    try:
        if path.stat().st_size == 0:
            return False
        with Image.open(path) as image:
            return image.size[0] > 0 and image.size[1] > 0
    except (OSError, UnidentifiedImageError, ValueError):
        return False


@dataclass
class FolderScan:
    """What a scan of class folders found: the samples, and the files it skipped."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def list_class_folders(root: Path, exclude: Sequence[str] = ()) -> list[str]:
    """The sorted sub-folder names of ``root`` (each a class)."""
    if not root.is_dir():
        raise UserError(f"{root} is not a folder of class folders")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in exclude)


def scan_class_folders(
    root: Path, classes: Sequence[str], max_per_class: int | None = None, check: bool = True
) -> FolderScan:
    """The image files of ``root/<class>/`` for each class (label = position in
    ``classes``), sorted by name, at most ``max_per_class`` each; unreadable ones skipped."""
    scan = FolderScan()
    candidates: list[tuple[Path, int]] = []
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise UserError(f"class folder {folder} does not exist")
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise UserError(f"class folder {folder} has no images ({', '.join(IMAGE_EXTENSIONS)})")
        candidates += [(p, label) for p in files[:max_per_class]]
    with ThreadPoolExecutor(8) as pool:  # header reads: I/O bound, threads suffice
        ok = list(pool.map(readable, (p for p, _ in candidates))) if check else None
    for i, (path, label) in enumerate(candidates):
        if ok is None or ok[i]:
            scan.samples.append((str(path), label))
        else:
            scan.skipped.append(str(path))
    found = {label for _, label in scan.samples}
    for label, name in enumerate(classes):
        if label not in found:
            raise UserError(f"class folder {root / name} has no readable images")
    return scan


class ImageFiles(Dataset):
    """(transformed RGB image, label) for each (path, label) sample."""

    def __init__(self, samples: list[Sample], transform: Callable | None = None):
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = load_rgb(path)
        return (self.transform(image) if self.transform else image), label
