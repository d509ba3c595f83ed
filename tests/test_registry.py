"""A network that is not AlexNet, registered with one call, goes through every tool."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from alexnet.builder import load_model
from alexnet.errors import UserError
from alexnet.models import ModelInfo, create_model, register_model
from alexnet.tasks.evaluate import evaluate
from alexnet.tasks.export import export
from alexnet.tasks.features import extract_features
from alexnet.tasks.predict import predict
from alexnet.tasks.train import train
from conftest import compose_config, run_task
from fixtures import write_class_tree, write_image


class TinyNet(nn.Module):
    """Two convolutions, global pooling, a hidden layer of ``2 * width``, a head."""

    def __init__(
        self, num_classes: int = 10, in_channels: int = 3, input_size: int = 16, width: int = 6
    ):
        super().__init__()
        self.input_size = input_size
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width, 2 * width),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


TINY = register_model(
    ModelInfo(
        "tiny_test_net", TinyNet, 16, feature_layer="body.7", head="head", gradcam_layer="body.3"
    )
)
TINY_MODEL = "model={name:tiny_test_net,input_size:16,width:6}"  # the data gives the rest


def test_registry_checks_names_and_arguments():
    assert create_model("tiny_test_net", num_classes=4).head.out_features == 4
    with pytest.raises(UserError, match="not a registered model"):
        create_model("tiny_test_nett")
    with pytest.raises(UserError, match="has no argument 'depth'"):
        create_model("tiny_test_net", depth=3)
    with pytest.raises(UserError, match="width: should be a valid integer"):
        create_model("tiny_test_net", width="6")


def test_a_registered_model_goes_through_every_tool(tmp_path):
    write_class_tree(tmp_path / "data", ["a", "b", "c"], 5)
    data = [
        "data=image_folder",
        f"data.root={tmp_path / 'data'}",
        "data.num_classes=3",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "data.num_workers=0",
        "data.batch_size=4",
    ]
    run_task(
        train,
        compose_config(
            tmp_path / "run",
            "~model",
            f"+{TINY_MODEL}",
            *data,
            "trainer.max_epochs=2",
            "logger=csv",
            "trainer.enable_progress_bar=false",
        ),
    )
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    loaded = load_model(ckpt)
    assert isinstance(loaded.net, TinyNet) and loaded.record.model.kwargs["width"] == 6

    metrics = run_task(
        evaluate, compose_config(tmp_path / "eval", f"ckpt_path={ckpt}", config_name="eval")
    )
    assert set(metrics) == {"test/acc", "test/acc_top5", "test/loss"}

    image = write_image(tmp_path / "x.png", size=(40, 30))
    (predicted,) = run_task(
        predict,
        compose_config(
            tmp_path / "predict",
            f"ckpt_path={ckpt}",
            f"inputs=[{image}]",
            "gradcam=true",
            "device=cpu",
            config_name="predict",
        ),
    )
    assert len(predicted["top"]) == 3
    assert Image.open(predicted["gradcam"]).format == "PNG"

    saved = torch.load(
        run_task(
            extract_features,
            compose_config(
                tmp_path / "features", f"ckpt_path={ckpt}", "device=cpu", config_name="features"
            ),
        ),
        weights_only=True,
    )
    assert saved["features"].shape[1] == 12 and saved["layer"] == "body.7"  # its own width

    onnx_path, recipe = run_task(
        export,
        compose_config(
            tmp_path / "export",
            f"ckpt_path={ckpt}",
            "formats=[onnx]",
            f"out={tmp_path / 'export'}",
            config_name="export",
        ),
    )
    import onnxruntime

    assert json.loads(recipe.read_text())["input_shape"] == [3, 16, 16]
    x = torch.randn(2, 3, 16, 16)
    (logits,) = onnxruntime.InferenceSession(str(onnx_path)).run(None, {"images": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(logits, loaded.net(x).numpy(), atol=1e-4)


def test_fine_tuning_from_a_checkpoint_replaces_the_head(trained, tmp_path):
    """init_from: the checkpoint's model and weights, a new head for another class count."""
    ckpt, _ = trained
    write_class_tree(tmp_path / "data", ["w", "x", "y", "z"], 5)
    cfg = compose_config(
        tmp_path / "run",
        "data=image_folder",
        f"data.root={tmp_path / 'data'}",
        "data.num_classes=4",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "data.num_workers=0",
        "data.batch_size=4",
        f"init_from={ckpt}",
        "model.freeze=[features]",
        "trainer.max_epochs=1",
        "logger=csv",
        "test=false",
        "trainer.enable_progress_bar=false",
    )
    start = load_model(ckpt).net
    run_task(train, cfg)
    tuned = load_model(tmp_path / "run" / "checkpoints" / "last.ckpt").net
    torch.testing.assert_close(tuned.features[0].weight, start.features[0].weight)  # frozen
    assert tuned.classifier[6].out_features == 4
    assert not torch.equal(tuned.classifier[1].weight, start.classifier[1].weight)  # trained
