"""Image files on disk: finding them in class folders, checking them, loading them as RGB.

Files as users have them, decided once for every dataset:
- a class folder's sub-folders count (as torchvision's ImageFolder walks them), links
  are followed, hidden files and folders are left out, extensions in any case;
- files that are not images (sound, text, SVG — vector drawings would need a
  rasteriser —, broken links, ...) are ignored and counted by kind in one line;
- zero-byte files, files PIL cannot identify as an image and images of more than
  ``data.max_image_pixels`` pixels (decompression bombs: a small file that declares
  30000×30000) are *skipped*: counted, listed in ``skipped_images.txt`` in the run
  directory, and reported in one warning;
- a file name that is not valid UTF-8 is read as it is and shown with its undecodable
  bytes escaped (``\xff``);
- a truncated image (its header reads, its data stops early) is *used*, the missing
  part left grey, as PIL does with ``LOAD_TRUNCATED_IMAGES``;
- a file that cannot be opened when its batch is loaded (with ``check_files=false``,
  or changed since the scan) stops the run with one line naming it: delete or replace it.
An empty class folder, or a split left with no images, is an error.
"""

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageFile, UnidentifiedImageError
from torch.utils.data import Dataset

from alexnet.errors import UserError

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
MAX_PIXELS = 89_478_485  # PIL's own default limit (Image.MAX_IMAGE_PIXELS)


def shown(path: str | Path) -> str:
    """``path`` printable in any encoding: bytes that are not UTF-8 escaped (\\xff)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class TooLarge(ValueError):
    """An image of more pixels than the limit (a decompression bomb, perhaps)."""


def open_image(path: str | Path, max_pixels: int) -> Image.Image:
    """The image at ``path``, its header read and nothing decoded yet; TooLarge beyond
    ``max_pixels``. PIL's settings are process-wide, so they are made here, where this
    project opens an image (in every DataLoader worker too), not when it is imported:
    truncated images decode (the rest grey), and PIL's pixel limit is raised to ours
    when ours is larger."""
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, max_pixels)
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as err:
        raise TooLarge(str(err)) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise TooLarge(f"{width}×{height} pixels, more than data.max_image_pixels={max_pixels}")
    return image


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


def load_rgb(path: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``path`` as RGB; a file that cannot be decoded is a UserError naming it."""
    try:
        with open_image(path, max_pixels) as image:
            return to_rgb(image)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise UserError(
            f"cannot decode image {shown(path)} ({err}): delete or replace it"
        ) from None


def header_size(path: str, max_pixels: int = MAX_PIXELS) -> tuple[int, int] | None:
    """(width, height) from the header of a non-empty image file PIL recognises, of at
    most ``max_pixels`` (cheap: no decode); None for anything else."""
    try:
        if os.stat(path).st_size == 0:
            return None
        with open_image(path, max_pixels) as image:
            return image.size if image.size[0] > 0 and image.size[1] > 0 else None
    except (OSError, UnidentifiedImageError, ValueError):
        return None


# Files that are not images, by kind, for the one line that says what was ignored.
NOT_IMAGES = {
    "audio": (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".aiff"),
    "video": (".mp4", ".mov", ".avi", ".mkv", ".webm"),
    "text and documents": (".txt", ".md", ".csv", ".json", ".xml", ".pdf", ".doc", ".docx"),
    "SVG (vector drawings need a rasteriser)": (".svg", ".svgz"),
}


def kind_of(path: str, link: bool) -> str | None:
    """Why the file at ``path`` (``link``: itself a link) is not used as an image (None:
    it is an image to read)."""
    if os.path.basename(path).startswith("."):
        return "hidden"
    if link and not os.path.exists(path):
        return "broken links"
    suffix = os.path.splitext(path)[1].lower()
    if suffix in IMAGE_EXTENSIONS:
        return None
    return next((kind for kind, suffixes in NOT_IMAGES.items() if suffix in suffixes), "other")


@dataclass
class FolderScan:
    """What a scan of class folders found: the samples, the image files it could not
    read (skipped), and the other files it left alone, by kind (ignored)."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: dict[str, list[str]] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # path → (w, h)
    links: dict[str, str] = field(default_factory=dict)  # a link → where its files are

    def add(self, other: "FolderScan") -> None:
        self.samples += other.samples
        self.skipped += other.skipped
        self.sizes.update(other.sizes)
        self.links.update(other.links)
        for kind, paths in other.ignored.items():
            self.ignored.setdefault(kind, []).extend(paths)

    def summary(self) -> str:
        """One line: how many files were skipped or ignored, and why ("" if none)."""
        parts = [f"{len(paths)} {kind}" for kind, paths in sorted(self.ignored.items())]
        said = []
        if self.skipped:
            said.append(
                f"skipped {len(self.skipped)} unreadable image files (empty, corrupt or too large)"
            )
        if parts:
            count = sum(len(paths) for paths in self.ignored.values())
            said.append(f"ignored {count} files that are not images: {', '.join(parts)}")
        if self.links:
            shown_links = ", ".join(f"{shown(a)} → {shown(b)}" for a, b in self.links.items())
            said.append(f"counted the images behind links once, where they are ({shown_links})")
        return "; ".join(said)

    def listing(self) -> str:
        """Every skipped or ignored file with the reason, a line each."""
        lines = [f"unreadable\t{shown(path)}" for path in self.skipped]
        lines += [f"{kind}\t{shown(p)}" for kind, paths in self.ignored.items() for p in paths]
        return "\n".join(lines) + "\n"


def list_class_folders(root: Path, exclude: Sequence[str] = ()) -> list[str]:
    """The sorted sub-folder names of ``root`` (each a class; hidden ones are not)."""
    if not root.is_dir():
        raise UserError(f"{root} is not a folder of class folders")
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and p.name not in exclude and not p.name.startswith(".")
    )


def class_folders(root: Path) -> list[str]:
    """The class folders of ``root``: two or more, or a UserError that says how to lay
    them out."""
    names = list_class_folders(root)
    if len(names) < 2:
        found = f"one class folder ({names[0]}/)" if names else "no class folders"
        raise UserError(
            f"{root} has {found}: a classifier needs two classes or more, each class's "
            f"images in a folder of its own ({root}/<class>/)"
        )
    return names


class FoundFile(NamedTuple):
    """A file below a class folder: its path there, its resolved path, whether it is a link."""

    path: str
    resolved: str
    link: bool


def files_below(folder: Path) -> list[FoundFile]:
    """Every file in ``folder`` and its sub-folders, following links (each real folder
    once, the first in sorted order, so a link cycle ends), hidden folders left out,
    sorted as Paths sort (by parts). The directory entries say which files are links, so
    only those are resolved or checked: a stat of every file, or Path objects for them,
    cost 0.1–0.2 s on 17,000 files."""
    found: list[FoundFile] = []
    seen: set[str] = set()
    pending = [str(folder)]
    while pending:  # depth first, smallest name first: the order the result is sorted in
        directory = pending.pop()
        real = os.path.realpath(directory)
        if real in seen:
            continue
        seen.add(real)
        with os.scandir(directory) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        subfolders = []
        for entry in listed:
            if entry.is_dir():
                if not entry.name.startswith("."):
                    subfolders.append(entry.path)
                continue
            link = entry.is_symlink()
            resolved = os.path.realpath(entry.path) if link else os.path.join(real, entry.name)
            found.append(FoundFile(entry.path, resolved, link))
        pending += reversed(subfolders)
    found.sort(key=lambda file: file.path.split(os.sep))  # Path's order, without its __lt__
    return found


HeaderSize = tuple[int, int] | None  # (width, height); None: unreadable
HeaderReader = Callable[[list[str]], list[HeaderSize]]


def read_headers(paths: list[str], max_pixels: int = MAX_PIXELS) -> list[HeaderSize]:
    """:func:`header_size` of each path, one after another: PIL parses a header in Python,
    so threads only add the GIL's hand-offs (17,000 PNGs on 2 cores: 0.46 s in turn
    against 2.3 s with 8 threads, the files in the OS's cache; 2.2 s against 2.8 s from
    disk)."""
    return [header_size(path, max_pixels) for path in paths]


def scan_class_folders(
    root: Path,
    classes: Sequence[str],
    max_per_class: int | None = None,
    headers: HeaderReader | None = read_headers,
) -> FolderScan:
    """The image files in ``root/<class>/`` and its sub-folders for each class (label =
    position in ``classes``), sorted, at most ``max_per_class`` each; the images whose
    ``headers`` cannot be read skipped (None: none checked), other files ignored, both
    noted."""
    scan = FolderScan()
    candidates: list[tuple[str, int]] = []
    owner = folder_owner({os.path.realpath(root / n): label for label, n in enumerate(classes)})
    seen: set[str] = set()
    for label, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise UserError(f"class folder {folder} does not exist")
        images = []
        for path, real, link in files_below(folder):
            kind = kind_of(path, link)
            if kind is None and once(real, label, owner, seen):
                images.append(path)
            elif kind is None:
                scan.links[str(first_link(folder, Path(path)))] = os.path.dirname(real)
            else:
                scan.ignored.setdefault(kind, []).append(path)
        if not images:
            raise UserError(f"class folder {folder} has no images ({', '.join(IMAGE_EXTENSIONS)})")
        candidates += [(p, label) for p in images[:max_per_class]]
    sizes = headers([p for p, _ in candidates]) if headers else None
    for i, (path, label) in enumerate(candidates):
        if sizes is None or sizes[i]:
            scan.samples.append((path, label))
            if sizes is not None:
                scan.sizes[path] = sizes[i]
        else:
            scan.skipped.append(path)
    found = {label for _, label in scan.samples}
    for label, name in enumerate(classes):
        if label not in found:
            raise UserError(f"class folder {root / name} has no readable images")
    return scan


def once(real: str, label: int, owner: Callable[[str], int | None], seen: set[str]) -> bool:
    """Whether the file at ``real`` (a resolved path) counts for class ``label``: not
    when another class's folder holds it (``owner`` of its folder: a link led here) or it
    counted already."""
    holder = owner(os.path.dirname(real))
    if (label if holder is None else holder) != label or real in seen:
        return False
    seen.add(real)
    return True


def folder_owner(homes: dict[str, int]) -> Callable[[str], int | None]:
    """The class whose folder (``homes``: resolved folder → class) holds a resolved
    folder, the innermost where they nest; None: none does. Remembered per folder."""

    @cache
    def owner(folder: str) -> int | None:
        holders = [
            (len(h), c) for h, c in homes.items() if (folder + os.sep).startswith(h + os.sep)
        ]
        return max(holders)[1] if holders else None

    return owner


def first_link(folder: Path, path: Path) -> Path:
    """The link below ``folder`` through which ``path`` is reached."""
    for parent in reversed(path.relative_to(folder).parents[:-1]):
        if (folder / parent).is_symlink():
            return folder / parent
    return path


class ImageFiles(Dataset):
    """(transformed RGB image, label) for each (path, label) sample."""

    def __init__(
        self, samples: list[Sample], transform: Callable | None = None, max_pixels: int = MAX_PIXELS
    ):
        self.samples, self.transform, self.max_pixels = samples, transform, max_pixels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = load_rgb(path, self.max_pixels)
        return (self.transform(image) if self.transform else image), label
