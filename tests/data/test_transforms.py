"""The paper's pipeline: ten crops and PCA lighting."""

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from alexnet.data.loading.transforms import (
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PCALighting,
    eval_transform,
    image_files_recipe,
    resize_for,
)


def test_resize_keeps_the_papers_margin():
    assert resize_for(224) == 256 and resize_for(227) - 227 == 256 - 224


def test_ten_crop_views_are_the_corner_and_centre_crops_and_their_flips():
    torch.manual_seed(0)
    pixels = torch.randint(0, 256, (3, 256, 256), dtype=torch.uint8)
    image = Image.fromarray(pixels.permute(1, 2, 0).numpy())
    views = eval_transform(image_files_recipe(224, "paper"), "ten_crop")(image)
    assert views.shape == (10, 3, 224, 224)
    full = F.normalize(pixels.float() / 255, IMAGENET_MEAN, IMAGENET_STD)
    crops = [
        full[:, :224, :224],
        full[:, :224, 32:],
        full[:, 32:, :224],
        full[:, 32:, 32:],
        full[:, 16:240, 16:240],
    ]
    expected = torch.stack(crops + [crop.flip(-1) for crop in crops])  # each one's reflection
    torch.testing.assert_close(views, expected, atol=1e-5, rtol=0)


def test_pca_lighting_offsets_follow_the_eigen_decomposition():
    torch.manual_seed(0)
    lighting = PCALighting(std=0.1)
    offsets = torch.stack([lighting.make_params([])["offset"] for _ in range(20000)])
    assert offsets.mean(0).abs().max() < 2e-3
    eigvec, eigval = torch.tensor(IMAGENET_EIGVEC), torch.tensor(IMAGENET_EIGVAL)
    expected = eigvec @ torch.diag((0.1 * eigval) ** 2) @ eigvec.T
    torch.testing.assert_close(offsets.T.cov(), expected, atol=3e-6, rtol=0.05)


def test_pca_lighting_adds_one_offset_to_every_pixel():
    torch.manual_seed(1)
    image = torch.rand(3, 8, 8)
    shifted = PCALighting(std=0.1)(image)
    offset = (shifted - image).flatten(1)
    assert offset.abs().max() > 0
    torch.testing.assert_close(offset, offset[:, :1].expand_as(offset))
