"""Image pipelines (torchvision.transforms.v2) for PIL images: the paper's and a modern one.

``paper`` (section 4.1): rescale the shorter side to ``resize`` and take the central
``resize``×``resize`` square; training takes random ``crop``×``crop`` patches, their
horizontal reflections and the PCA colour noise; evaluation takes the central patch,
or (``tta="ten_crop"``) the four corner and central patches and their reflections.
``resize`` is ``crop · 256/224``: 256 for a 224 crop as in the paper, 259 for the
227 crop of the paper layout (the same 32-pixel translation range).

``modern``: RandomResizedCrop, flip, RandAugment for training; resize and centre
crop for evaluation.

Both normalise with the ImageNet per-channel mean and std.
"""

from collections.abc import Mapping

import torch
from torchvision.transforms import v2

from alexnet.models.registry import IMAGENET_MEAN, IMAGENET_STD

# Eigen-decomposition of the RGB covariance of ImageNet's training pixels (in [0, 1]),
# the values fb.resnet.torch and most reimplementations of the paper use.
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)
PRESETS = ("paper", "modern")
TTAS = ("center", "ten_crop")


class PCALighting(v2.Transform):
    """The paper's colour augmentation: add ``eigvec @ (alpha * eigval)`` to every pixel
    of an image, with ``alpha ~ N(0, std)`` drawn once per image (float images in [0, 1])."""

    def __init__(self, std: float = 0.1, eigval=IMAGENET_EIGVAL, eigvec=IMAGENET_EIGVEC):
        super().__init__()
        self.std = std
        self.eigval = torch.tensor(eigval)
        self.eigvec = torch.tensor(eigvec)  # columns are the eigenvectors

    def make_params(self, flat_inputs: list) -> dict:
        alpha = torch.randn(3) * self.std
        return {"offset": self.eigvec @ (alpha * self.eigval)}

    def transform(self, inpt, params: dict):
        if not isinstance(inpt, torch.Tensor) or not inpt.is_floating_point():
            return inpt  # labels and the like pass through
        return inpt + params["offset"].to(inpt.dtype).view(3, 1, 1)


def resize_for(crop: int) -> int:
    """The shorter-side size to crop ``crop`` from: crop · 256/224."""
    return round(crop * 256 / 224)


def _to_normalised_tensor() -> list[v2.Transform]:
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


def train_transform(preset: str, crop: int) -> v2.Compose:
    """The training pipeline of ``preset`` for square crops of side ``crop``."""
    normalise = v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    if preset == "paper":
        resize = resize_for(crop)
        return v2.Compose(
            [
                v2.Resize(resize, antialias=True),
                v2.CenterCrop(resize),
                v2.RandomCrop(crop),
                v2.RandomHorizontalFlip(),
                *_to_normalised_tensor(),
                PCALighting(0.1),
                normalise,
            ]
        )
    return v2.Compose(
        [
            v2.RandomResizedCrop(crop, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandAugment(),
            *_to_normalised_tensor(),
            normalise,
        ]
    )


class StackViews:
    """Run a transform that returns several views (v2 maps every step over them) and
    stack them into one (views, C, H, W) tensor; v2 has no step that stacks."""

    def __init__(self, transform: v2.Transform):
        self.transform = transform

    def __call__(self, image) -> torch.Tensor:
        return torch.stack(self.transform(image))


def image_files_recipe(crop: int, preset: str) -> dict:
    """The evaluation recipe of the image-file datasets: shorter side to crop·256/224,
    central crop, ImageNet statistics (see alexnet.checkpoints.Preprocessing)."""
    mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    return {
        "channels": 3,
        "resize": resize_for(crop),
        "crop": crop,
        "mean": mean,
        "std": std,
        "preset": preset,
    }


class TenPatches(v2.Transform):
    """The paper's ten test patches (section 4.1): the four corner patches and the
    centre patch, and their horizontal reflections. (torchvision's TenCrop takes the
    five crops of the reflected image, whose centre crop is one pixel off the centre
    patch's reflection when the margin is odd, as 37 − 32 is.)"""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def __call__(self, image):
        five = v2.functional.five_crop(image, self.size)
        return (*five, *(v2.functional.horizontal_flip(patch) for patch in five))


def eval_transform(recipe: Mapping, tta: str = "center") -> v2.Compose | StackViews:
    """A PIL image → model input as ``recipe`` (a checkpoint's "preprocessing") says:
    grayscale if it has one channel, shorter side to ``resize``, then the central
    ``crop`` — or ``tta="ten_crop"``: the four corner crops, the centre crop and their
    reflections of the central square, as a (10, C, crop, crop) tensor."""
    crop, resize = recipe["crop"], recipe["resize"]
    views = TenPatches(crop) if tta == "ten_crop" else v2.CenterCrop(crop)
    steps = v2.Compose(
        [
            *([v2.Grayscale(1)] if recipe["channels"] == 1 else []),
            v2.Resize(resize, antialias=True),
            v2.CenterCrop(resize),
            views,
            *_to_normalised_tensor(),
            v2.Normalize(recipe["mean"], recipe["std"]),
        ]
    )
    return StackViews(steps) if tta == "ten_crop" else steps
