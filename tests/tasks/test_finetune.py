"""experiment=finetune_caltech101: torchvision's weights, frozen features, a new head."""

import torch
import torchvision

from alexnet.builder import build_module, build_net, with_classes
from alexnet.run.cli import spec_of
from alexnet.tasks.train import train
from conftest import compose_config, error_line, run_script
from fixtures import NO_NETWORK, write_caltech101


def finetune_overrides(root) -> list[str]:
    return [
        "experiment=finetune_caltech101",
        f"data.root={root}",
        "data.num_classes=4",
        "data.train_per_class=5",
        "data.num_workers=0",
        "data.batch_size=4",
    ]


def test_finetune_starts_from_imagenet_weights_and_trains_only_the_head(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    state = torchvision.models.alexnet().state_dict()  # stands in for the ImageNet file
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / "alexnet-owt-7be5be79.pth")
    root = write_caltech101(tmp_path / "data", per_class=8)
    cfg = compose_config(tmp_path / "run", *finetune_overrides(root))
    spec = spec_of(train, cfg)
    parts = with_classes(spec.parts(), 4)
    net = build_net(parts.model)
    module = build_module(spec, parts, net)
    torch.testing.assert_close(net.features[0].weight, state["features.0.weight"])
    assert net.classifier[6].out_features == 4
    assert not any(p.requires_grad for p in net.features.parameters())
    assert all(p.requires_grad for p in net.classifier.parameters())
    assert cfg.optimizer.lr == 0.001
    optimizer = module.configure_optimizers()["optimizer"]
    trained_ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert trained_ids == {id(p) for p in net.classifier.parameters()}


def test_finetune_offline_without_weights_is_one_line(tmp_path):
    root = write_caltech101(tmp_path / "data", per_class=8)
    env = {**NO_NETWORK, "TORCH_HOME": str(tmp_path / "empty")}
    result = run_script(
        "train.py", *finetune_overrides(root), "debug=fast_dev_run", env=env, cwd=tmp_path
    )
    assert result.returncode == 2
    line = error_line(result)
    assert "hub/checkpoints/alexnet-owt-7be5be79.pth" in line
