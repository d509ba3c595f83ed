"""The feature-extraction task: fc7's 4096-d activations for every image of a split."""

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from rich.console import Console
from torchvision.models.feature_extraction import create_feature_extractor

from alexnet.checkpoints import load_classifier, read_checkpoint
from alexnet.errors import UserError
from alexnet.tasks.predict import pick_device

FC7 = "classifier.5"  # the ReLU after the second fully connected layer


def extract_features(cfg: DictConfig) -> Path:
    """Save ``{"features": (N, 4096) float tensor, "labels": (N,), "class_names": [...]}``
    for ``cfg.split`` of ``cfg.data`` (default: the checkpoint's dataset) as
    ``features_<split>.pt`` in the run directory; it loads with weights_only=True."""
    if cfg.split not in ("train", "val", "test"):
        raise UserError(f"split={cfg.split!r} is not one of train, val, test")
    checkpoint = read_checkpoint(cfg.ckpt_path)
    run_config = checkpoint["hyper_parameters"]["run_config"]
    with open_dict(cfg):
        cfg.model = run_config["model"]
        if cfg.get("data") is None:
            cfg.data = run_config["data"]
    device = pick_device(cfg.device)
    net = load_classifier(checkpoint).net.eval().to(device)
    extractor = create_feature_extractor(net, return_nodes={FC7: "fc7"})
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    features, labels = [], []
    with torch.no_grad():
        for images, targets in datamodule.loader(datamodule.unaugmented(cfg.split)):
            features.append(extractor(images.to(device))["fc7"].cpu())
            labels.append(torch.as_tensor(targets))
    saved = {
        "features": torch.cat(features),
        "labels": torch.cat(labels),
        "class_names": list(datamodule.class_names),
        "ckpt_path": str(cfg.ckpt_path),
    }
    path = Path(cfg.paths.output_dir) / f"features_{cfg.split}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, path)
    rows, width = saved["features"].shape
    Console(soft_wrap=True).print(f"{rows} × {width} features of the {cfg.split} split: {path}")
    return path
