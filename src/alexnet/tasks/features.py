"""The feature-extraction task: the penultimate layer's activations for a whole split."""

from pathlib import Path

import torch
from torchvision.models.feature_extraction import create_feature_extractor

from alexnet.builder import build_data, load_model, set_up
from alexnet.checkpoints import read_checkpoint
from alexnet.checkpoints.identity import class_map
from alexnet.console import inform
from alexnet.spec import FeaturesSpec, checkpoint_data
from alexnet.tasks.predict import pick_device


def mapped(labels: torch.Tensor, label_map: list[int] | None) -> torch.Tensor:
    return labels if label_map is None else torch.tensor(label_map)[labels]


def extract_features(spec: FeaturesSpec) -> Path:
    """Save ``{"features": (N, D) float tensor, "labels": (N,), "class_names": [...],
    "layer": name}`` for ``spec.split`` of ``spec.data`` (default: the checkpoint's
    dataset) as ``features_<split>.pt`` in the run directory; it loads with
    weights_only=True. The layer is the model's registered feature layer (fc7 after its
    ReLU for the AlexNet family: 4096-d, 1024-d for alexnet_mini). The labels index the
    checkpoint's classes (data with some of them is mapped by name)."""
    loaded = load_model(read_checkpoint(spec.ckpt_path))
    device = pick_device(spec.device)
    layer = loaded.info.layer_name("feature_layer", loaded.net)
    extractor = create_feature_extractor(loaded.net.to(device), return_nodes={layer: "features"})
    data = checkpoint_data(loaded.record.model, loaded.record.data, spec.data)
    datamodule = set_up(build_data(data))
    trained = loaded.record.class_names or list(datamodule.class_names)
    label_map = class_map(trained, datamodule.class_names, f"data {data.name}")
    features, labels = [], []  # labels: the data's, then the checkpoint's class indices
    with torch.no_grad():
        for images, targets in datamodule.evaluation_batches(spec.split):
            features.append(extractor(images.to(device))["features"].flatten(1).cpu())
            labels.append(torch.as_tensor(targets))
    saved = {
        "features": torch.cat(features),
        "labels": torch.cat(labels)
        if label_map is None
        else torch.tensor(label_map)[torch.cat(labels)],
        "class_names": trained,
        "layer": layer,
        "ckpt_path": spec.ckpt_path,
    }
    path = Path(spec.paths.output_dir) / f"features_{spec.split}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, path)
    rows, width = saved["features"].shape
    of = f"({loaded.info.name}'s {layer}) of the {spec.split} split"
    inform(f"{rows} × {width} features {of}: {path}")
    return path
