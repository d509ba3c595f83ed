"""Image pipelines (torchvision.transforms.v2) for PIL images: the paper's and a modern one.

``paper`` (section 4.1): rescale the shorter side to ``resize`` and take the central
``resize``×``resize`` square; training takes random ``crop``×``crop`` patches, their
horizontal reflections and the PCA colour noise; evaluation takes the central patch,
or (``tta="ten_crop"``) the four corner and central patches and their reflections.
``resize`` is ``crop · 256/224``: 256 for a 224 crop as in the paper, 259 for the
227 crop of the paper layout (the same 32-pixel translation range).

``modern``: RandomResizedCrop, flip, RandAugment for training; resize and centre
crop for evaluation.

``small`` (CIFAR's): resize to the crop, a random crop of the image extended by an eighth
of its side with copies of its edge pixels (no frame of a value the image lacks), flip;
evaluation resizes only. For images up to about 64 pixels, which
RandomResizedCrop and RandAugment, built for photos, would mostly destroy.

``auto`` (the default of image_folder) picks ``small`` or ``modern`` from the images'
sizes, and normalises with the training split's own mean and std (ImageNet's
otherwise): see alexnet.data.datasets.file_datamodule.
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
PRESETS = ("auto", "paper", "modern", "small")
TTAS = ("center", "ten_crop")


def lighting_offsets(alpha: torch.Tensor) -> torch.Tensor:
    """The paper's PCA colour offsets ``eigvec @ (alpha * eigval)`` for a (B, 3) batch of
    ``alpha`` draws: (B, 3) RGB offsets on the [0, 1] scale, one per image."""
    eigval = torch.tensor(IMAGENET_EIGVAL, device=alpha.device)
    eigvec = torch.tensor(IMAGENET_EIGVEC, device=alpha.device)  # columns: eigenvectors
    return (alpha * eigval) @ eigvec.T


class PCALighting(v2.Transform):
    """The paper's colour augmentation: add ``eigvec @ (alpha * eigval)`` to every pixel
    of an image, with ``alpha ~ N(0, std)`` drawn once per image (float images in [0, 1])."""

    def __init__(self, std: float = 0.1):
        super().__init__()
        self.std = std

    def make_params(self, flat_inputs: list) -> dict:
        return {"offset": lighting_offsets(torch.randn(1, 3) * self.std)[0]}

    def transform(self, inpt, params: dict):
        if not isinstance(inpt, torch.Tensor) or not inpt.is_floating_point():
            return inpt  # labels and the like pass through
        return inpt + params["offset"].to(inpt.dtype).view(3, 1, 1)


def resize_for(crop: int) -> int:
    """The shorter-side size to crop ``crop`` from: crop · 256/224."""
    return round(crop * 256 / 224)


def _to_normalised_tensor() -> list[v2.Transform]:
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


def train_transform(preset: str, crop: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> v2.Compose:
    """The training pipeline of ``preset`` for square crops of side ``crop``, normalised
    with ``mean`` and ``std``."""
    normalise = v2.Normalize(list(mean), list(std))
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
    if preset == "small":
        return v2.Compose(
            [
                v2.Resize(crop, antialias=True),
                v2.CenterCrop(crop),
                v2.RandomCrop(crop, padding=crop // 8, padding_mode="edge"),  # no frame
                v2.RandomHorizontalFlip(),
                *_to_normalised_tensor(),
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


def image_files_recipe(crop: int, preset: str, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> dict:
    """The evaluation recipe of the image-file datasets (see
    alexnet.checkpoints.Preprocessing): shorter side to crop·256/224 and the central
    crop (``small``: to crop, no margin), normalised with ``mean`` and ``std``."""
    resize = crop if preset == "small" else resize_for(crop)
    mean, std = list(mean), list(std)
    return {
        "channels": 3,
        "resize": resize,
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
