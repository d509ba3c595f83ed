"""Response normalisation: cuda-convnet's within-map layer, whether a layer acts, and the
pools' padding."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from alexnet.models import WithinMapNorm, create_model
from alexnet.models.layers import LocalResponseNorm, acting_shares


def test_within_map_norm_divides_by_the_sum_over_each_maps_window():
    """b = a / (k + alpha / size² · Σ a² over the size×size window of its own map), the
    window cut off at the border (cuda-convnet's rnorm with minDiv k)."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 7) * 5
    layer = WithinMapNorm(3, alpha=9 * 0.01, beta=0.75, k=1.0)
    padded = F.pad(x * x, (1, 1, 1, 1))
    window = sum(padded[..., i : i + 6, j : j + 7] for i in range(3) for j in range(3))
    torch.testing.assert_close(layer(x), x / (1.0 + 0.01 * window) ** 0.75)


def test_within_map_norm_is_a_norm_option_of_both_networks():
    for name in ("alexnet_mini", "cifar_convnet"):
        net = create_model(name, num_classes=10, norm="lrn_within_map", lrn_size=3)
        assert sum(isinstance(m, WithinMapNorm) for m in net.modules()) == 2
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("scale", [1.0, 255.0])
def test_the_share_of_positions_where_the_lrn_acts(scale):
    """On activations of order 1 the paper's LRN (k=2, α=1e-4) divides by k^β everywhere;
    on the paper's pixel scale it does not."""
    torch.manual_seed(0)
    x = torch.rand(4, 16, 8, 8) * scale
    acting, total = LocalResponseNorm(5, 5e-4, 0.75, 2.0).acting(x)
    assert total == x.numel()
    assert (acting == 0) if scale == 1.0 else (acting / total > 0.9)


def test_acting_shares_of_a_network_per_layer_and_together():
    torch.manual_seed(0)
    net = create_model("cifar_convnet", num_classes=10, norm="lrn", in_channels=1)
    quiet = acting_shares(net, torch.rand(8, 1, 32, 32))
    loud = acting_shares(net, torch.rand(8, 1, 32, 32) * 255)
    assert set(quiet) == {"features.3", "features.7", ""}
    assert quiet[""] == 0 and loud["features.3"] > 0.5 and 0 < loud[""] < 1
    assert (
        acting_shares(create_model("alexnet_mini", num_classes=10), torch.rand(2, 3, 32, 32)) == {}
    )


def test_average_pools_do_not_count_their_padding():
    """A constant map stays constant through the small net's padded average pools (a
    counted zero would darken the border: only the overlapping arm has padding)."""
    net = create_model("cifar_convnet", num_classes=10, pool_kernel=3)
    pools = [m for m in net.features if isinstance(m, nn.AvgPool2d)]
    out = pools[0](torch.ones(1, 1, 16, 16))
    assert out.shape == (1, 1, 8, 8) and torch.equal(out, torch.ones_like(out))
