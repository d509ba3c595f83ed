import pytest
import torch
import torchvision
from torch import nn

from alexnet.errors import UserError
from alexnet.models import (
    AlexNet,
    LocalResponseNorm,
    create_model,
    list_models,
    load_torchvision_weights,
    model_info,
)
from fixtures import NO_NETWORK, set_environment


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def torchvision_layout(weights: str | None = None, **kwargs) -> AlexNet:
    net = create_model("alexnet_torchvision", **kwargs)
    info = model_info("alexnet_torchvision")
    return load_torchvision_weights(net, info, weights) if weights else net


@pytest.mark.parametrize("name", list_models())
def test_output_shape_at_native_size(name):
    model = create_model(name, num_classes=7).eval()
    size = model_info(name).input_size
    assert model(torch.randn(2, 3, size, size)).shape == (2, 7)


@pytest.mark.parametrize(
    ("model", "count"),
    [
        (lambda: AlexNet(), 60_965_224),
        (lambda: AlexNet(groups=1), 62_378_344),
        (lambda: torchvision_layout(), 61_100_840),
        (lambda: AlexNet(arch="mini", num_classes=10, norm="bn", groups=1), 3_074_938),
    ],
    ids=["paper", "paper-one-gpu", "torchvision", "mini"],
)
def test_parameter_counts(model, count):
    assert n_params(model()) == count


def test_paper_feature_map_sizes():
    """Figure 2 of the paper, at 227×227 input."""
    model = AlexNet().eval()
    x, shapes = torch.randn(1, 3, 227, 227), []
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [
        (96, 55, 55),
        (96, 27, 27),
        (256, 27, 27),
        (256, 13, 13),
        (384, 13, 13),
        (384, 13, 13),
        (256, 13, 13),
        (256, 6, 6),
    ]


def test_paper_layout_is_the_papers():
    model = AlexNet()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert [(c.kernel_size[0], c.stride[0]) for c in convs][:2] == [(11, 4), (5, 1)]
    lrns = [m for m in model.features if isinstance(m, LocalResponseNorm)]
    assert len(lrns) == 2 and lrns[0].k == 2 and lrns[0].beta == 0.75
    assert lrns[0].alpha / lrns[0].size == pytest.approx(1e-4)  # the paper's α per sum
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] * 3  # overlapping
    dropouts = [m.p for m in model.classifier if isinstance(m, nn.Dropout)]
    assert dropouts == [0.5, 0.5]


def test_paper_initialisation():
    torch.manual_seed(0)
    model = AlexNet()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
    biases = [float(m.bias.unique().item()) for m in convs + fcs]
    assert biases == [0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0]
    for m in convs + fcs:
        assert m.weight.mean().abs() < 1e-3
        assert m.weight.std().item() == pytest.approx(0.01, rel=0.05)


def test_non_overlapping_pooling_keeps_the_shapes():
    model = AlexNet(pool_kernel=2, num_classes=5).eval()
    assert model(torch.randn(1, 3, 227, 227)).shape == (1, 5)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "silu", "leaky_relu"])
def test_activation_knob(activation):
    model = AlexNet(arch="mini", input_size=32, num_classes=3, activation=activation).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())


def test_other_input_sizes_reach_the_classifier():
    model = AlexNet(num_classes=4, in_channels=1).eval()
    assert model(torch.randn(1, 1, 160, 160)).shape == (1, 4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"norm": "group"},
        {"arch": "vgg"},
        {"activation": "swish"},
        {"dropout": 1.0},
        {"init": "xavier"},
        {"groups": 5},
        {"num_classes": 0},
    ],
)
def test_bad_knobs_are_user_errors(kwargs):
    with pytest.raises(UserError):
        AlexNet(**kwargs)


@pytest.mark.parametrize("size", [3, 5, 6])
def test_lrn_equals_torch(size):
    torch.manual_seed(0)
    x = (torch.randn(2, 16, 7, 7) * 4).requires_grad_()
    ours = LocalResponseNorm(size, alpha=5e-4, beta=0.75, k=2.0)
    ref = nn.LocalResponseNorm(size, alpha=5e-4, beta=0.75, k=2.0)
    torch.testing.assert_close(ours(x), ref(x))
    (grad_ours,) = torch.autograd.grad(ours(x).square().sum(), x)
    (grad_ref,) = torch.autograd.grad(ref(x).square().sum(), x)
    torch.testing.assert_close(grad_ours, grad_ref)


def test_lrn_runs_in_deterministic_mode():
    torch.use_deterministic_algorithms(True)
    try:
        x = torch.randn(1, 8, 5, 5, requires_grad=True)
        LocalResponseNorm(5)(x).sum().backward()
    finally:
        torch.use_deterministic_algorithms(False)
    assert x.grad is not None


def test_torchvision_state_dict_gives_identical_logits():
    reference = torchvision.models.alexnet().eval()
    ours = torchvision_layout().eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 224, 224)
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)


def write_cached_weights(torch_home) -> dict:
    """torchvision's AlexNet state_dict where torch.hub caches IMAGENET1K_V1."""
    state = torchvision.models.alexnet().state_dict()
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(state, checkpoints / "alexnet-owt-7be5be79.pth")
    return state


def test_weights_enum_loads_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = write_cached_weights(tmp_path)
    model = torchvision_layout(weights="IMAGENET1K_V1")
    torch.testing.assert_close(model.state_dict(), state)


def test_weights_with_a_new_head_keep_the_features(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = write_cached_weights(tmp_path)
    model = torchvision_layout(weights="IMAGENET1K_V1", num_classes=10)
    torch.testing.assert_close(model.features[0].weight, state["features.0.weight"])
    assert model.classifier[6].out_features == 10


def test_missing_weights_offline_say_where_the_file_goes(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    set_environment(monkeypatch, NO_NETWORK)
    with pytest.raises(UserError, match=r"hub/checkpoints/alexnet-owt-7be5be79\.pth"):
        torchvision_layout(weights="IMAGENET1K_V1")


def test_unknown_weights_name():
    with pytest.raises(UserError, match="IMAGENET1K_V1"):
        torchvision_layout(weights="IMAGENET22K")
