"""torchvision's ImageNet weights for the ``torchvision`` layout."""

from pathlib import Path

import torch
from torchvision.models import AlexNet_Weights

from alexnet.errors import UserError
from alexnet.models.alexnet import AlexNet

HEAD = "classifier.6."


def load_torchvision_weights(model: AlexNet, weights: str) -> AlexNet:
    """Load ``torchvision.models.AlexNet_Weights[weights]`` (e.g. ``IMAGENET1K_V1``,
    ``DEFAULT``) into a ``torchvision``-layout model, downloading them into torch's hub
    cache if they are not there. A head with other than 1000 classes keeps its own
    fresh initialisation (fine-tuning)."""
    try:
        spec = AlexNet_Weights[weights]
    except KeyError:
        names = ", ".join(AlexNet_Weights.__members__)
        raise UserError(f"model.weights={weights!r} is not one of {names}") from None
    try:
        state = spec.get_state_dict(progress=True, check_hash=True)
    except OSError as err:  # URLError and friends: no network, no cached file
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(spec.url).name
        raise UserError(
            f"cannot download torchvision's AlexNet {spec} weights ({err}); "
            f"without network, download {spec.url} and put it at {cache}"
        ) from None
    head_fits = model.classifier[6].out_features == state[HEAD + "weight"].shape[0]
    if not head_fits:
        state = {k: v for k, v in state.items() if not k.startswith(HEAD)}
    try:
        model.load_state_dict(state, strict=head_fits)
    except RuntimeError as err:
        raise UserError(
            f"torchvision's weights need model=alexnet_torchvision with 3 input channels: {err}"
        ) from None
    return model


def alexnet_torchvision(
    weights: str | None = None, freeze: list[str] | None = None, **kwargs
) -> AlexNet:
    """torchvision's one-GPU AlexNet, optionally with its pretrained weights and some
    sub-modules frozen (after loading, so a new head stays trainable)."""
    model = AlexNet(arch="torchvision", **kwargs)
    if weights:
        load_torchvision_weights(model, weights)
    model.freeze(freeze or [])
    return model
