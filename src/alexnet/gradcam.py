"""Grad-CAM heat maps (Selvaraju et al. 2017) through captum, drawn over the image."""

from pathlib import Path

import torch
from torch import nn

from alexnet.errors import UserError


def gradcam(
    net: nn.Module, layer: nn.Module, images: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Heat maps in [0, 1], one (H, W) per image, for the classes ``targets``, of the
    output of ``layer`` (the model's registered Grad-CAM layer)."""
    try:
        from captum.attr import LayerAttribution, LayerGradCam
    except ImportError:
        raise UserError(
            "gradcam=true needs the explain extra: pip install -e '.[explain]'"
        ) from None

    cam = LayerGradCam(net, layer)
    maps = cam.attribute(images, target=targets, relu_attributions=True)
    maps = LayerAttribution.interpolate(maps, tuple(images.shape[-2:]), "bilinear")[:, 0]
    peak = maps.flatten(1).max(dim=1).values.clamp_min(1e-12)
    return (maps / peak[:, None, None]).detach().cpu()


def save_overlay(image, heat: torch.Tensor, title: str, path: Path) -> Path:
    """The image (PIL) with the heat map over it, as a PNG."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(image.resize(tuple(heat.shape[::-1])))
    ax.imshow(heat.numpy(), cmap="jet", alpha=0.45)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
