"""Starting from trained weights (torchvision's, or any state_dict) with a new head
when the class count differs, and freezing sub-modules: for any registered model."""

from pathlib import Path

import torch
from torch import nn

from alexnet.errors import UserError
from alexnet.models.registry import ModelInfo


def load_weights(
    net: nn.Module, state: dict[str, torch.Tensor], info: ModelInfo, source: str
) -> nn.Module:
    """Load ``state`` into ``net``. The head's tensors are left out when their shapes
    differ (another class count: the head keeps its fresh initialisation); any other
    missing, unexpected or mis-shaped tensor is a UserError that names them."""
    own = net.state_dict()
    head = info.layer_name("head", net) + "."
    state = {
        k: v
        for k, v in state.items()
        if not (k.startswith(head) and k in own and own[k].shape != v.shape)
    }
    wrong = [
        f"{k} {tuple(v.shape)}≠{tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and own[k].shape != v.shape
    ]
    missing = sorted(set(own) - set(state) - {k for k in own if k.startswith(head)})
    unexpected = sorted(set(state) - set(own))
    if wrong or missing or unexpected:
        problems = [
            f"{label}: {', '.join(names[:5])}{' …' if len(names) > 5 else ''}"
            for label, names in (
                ("shape mismatch", wrong),
                ("missing", missing),
                ("unexpected", unexpected),
            )
            if names
        ]
        raise UserError(
            f"the weights of {source} do not fit model {info.name} ({'; '.join(problems)})"
        )
    net.load_state_dict(state, strict=False)  # only the head may be absent, checked above
    return net


def load_torchvision_weights(net: nn.Module, info: ModelInfo, weights: str) -> nn.Module:
    """Load torchvision's ``weights`` (e.g. ``IMAGENET1K_V1``, ``DEFAULT``) for the model
    ``info``, downloading them into torch's hub cache if they are not there."""
    if info.weights is None:
        raise UserError(f"model {info.name} has no torchvision weights (model.weights=null)")
    try:
        spec = info.weights[weights]
    except KeyError:
        names = ", ".join(info.weights.__members__)
        raise UserError(f"model.weights={weights!r} is not one of {names}") from None
    try:
        state = spec.get_state_dict(progress=True, check_hash=True)
    except OSError as err:  # URLError and friends: no network, no cached file
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(spec.url).name
        raise UserError(
            f"cannot download torchvision's {spec} weights ({err}); "
            f"without network, download {spec.url} and put it at {cache}"
        ) from None
    return load_weights(net, state, info, f"torchvision's {spec}")


def freeze(net: nn.Module, names: list[str]) -> nn.Module:
    """Stop training the parameters of the named sub-modules (e.g. ``features``)."""
    modules = dict(net.named_modules())
    for name in names:
        if name not in modules or not name:
            top = ", ".join(n for n, _ in net.named_children())
            raise UserError(f"model.freeze: no sub-module {name!r} (the top ones: {top})")
        modules[name].requires_grad_(False)
    return net
