"""The feature-extraction task: the penultimate layer's activations for a whole split."""

from pathlib import Path

import torch
from omegaconf import DictConfig
from torchvision.models.feature_extraction import create_feature_extractor

from alexnet.checkpoints import read_checkpoint
from alexnet.run.console import inform
from alexnet.run.errors import UserError
from alexnet.runspec.builder import build_data, load_model
from alexnet.runspec.spec import checkpoint_data
from alexnet.tasks.predict import pick_device


def extract_features(cfg: DictConfig) -> Path:
    """Save ``{"features": (N, D) float tensor, "labels": (N,), "class_names": [...],
    "layer": name}`` for ``cfg.split`` of ``cfg.data`` (default: the checkpoint's
    dataset) as ``features_<split>.pt`` in the run directory; it loads with
    weights_only=True. The layer is the model's registered feature layer (fc7 after its
    ReLU for the AlexNet family: 4096-d, 1024-d for alexnet_mini)."""
    if cfg.split not in ("train", "val", "test"):
        raise UserError(f"split={cfg.split!r} is not one of train, val, test")
    loaded = load_model(read_checkpoint(cfg.ckpt_path))
    device = pick_device(cfg.device)
    layer = loaded.info.layer_name("feature_layer", loaded.net)
    extractor = create_feature_extractor(loaded.net.to(device), return_nodes={layer: "features"})
    datamodule = build_data(
        checkpoint_data(loaded.record.model, loaded.record.data, cfg.get("data"))
    )
    datamodule.prepare_data()
    datamodule.setup("fit")
    features, labels = [], []
    with torch.no_grad():
        for images, targets in datamodule.evaluation_batches(cfg.split):
            features.append(extractor(images.to(device))["features"].flatten(1).cpu())
            labels.append(torch.as_tensor(targets))
    saved = {
        "features": torch.cat(features),
        "labels": torch.cat(labels),
        "class_names": list(datamodule.class_names),
        "layer": layer,
        "ckpt_path": str(cfg.ckpt_path),
    }
    path = Path(cfg.paths.output_dir) / f"features_{cfg.split}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, path)
    rows, width = saved["features"].shape
    inform(
        f"{rows} × {width} features ({loaded.info.name}'s {layer}) of the {cfg.split} split: {path}"
    )
    return path
