"""predict.py, features.py and the exporters on a real trained checkpoint."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet.checkpoints import load_classifier, read_checkpoint
from alexnet.export import export
from alexnet.tasks.features import extract_features
from conftest import compose_config, run_script
from fixtures import write_image


def test_predict_prints_top_classes_and_saves_gradcam(trained, tmp_path):
    ckpt, data = trained
    root = data[0].split("=", 1)[1]
    write_image(tmp_path / "extra.png", mode="RGBA")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    result = run_script(
        "predict.py",
        f"ckpt_path={ckpt}",
        f"inputs=[{root}/a,{tmp_path}/extra.png,{tmp_path}/broken.jpg]",
        "gradcam=true",
        "device=cpu",
        "batch_size=2",
        "top_k=3",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Predictions" in result.stdout and "broken.jpg" in result.stdout
    (run_dir,) = (tmp_path / "logs" / "predict" / "runs").iterdir()
    predictions = json.loads((run_dir / "predictions.json").read_text())
    scored = [p for p in predictions if "top" in p]
    assert len(scored) == 6 and sum("error" in p for p in predictions) == 1
    for p in scored:
        probs = [t["probability"] for t in p["top"]]
        assert [t["class"] for t in p["top"]] and len(probs) == 3
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
        assert {t["class"] for t in p["top"]} <= {"a", "b", "c"}
        heat = Image.open(p["gradcam"])
        assert heat.format == "PNG" and heat.width > 100


def test_predictions_match_the_network(trained, tmp_path):
    """The probabilities printed are the network's softmax on the eval pipeline."""
    from alexnet.data.images import load_rgb
    from alexnet.data.transforms import eval_transform
    from alexnet.tasks.predict import predict

    ckpt, data = trained
    image = tmp_path / "one.jpg"
    write_image(image, seed=7)
    cfg = compose_config(
        tmp_path, f"ckpt_path={ckpt}", f"inputs=[{image}]", "device=cpu", config_name="predict"
    )
    (result,) = predict(cfg)
    net = load_classifier(read_checkpoint(ckpt)).net.eval()
    with torch.no_grad():
        probs = net(eval_transform(32)(load_rgb(str(image)))[None]).softmax(-1)[0]
    assert result["top"][0]["probability"] == pytest.approx(probs.max().item(), abs=1e-6)


@pytest.mark.parametrize("split", ["train", "test"])
def test_features_are_fc7_activations_with_labels(trained, tmp_path, split):
    ckpt, data = trained
    cfg = compose_config(
        tmp_path,
        f"ckpt_path={ckpt}",
        "data=image_folder",
        *data,
        f"split={split}",
        "device=cpu",
        "+model.input_size=32",
        "data.num_workers=0",
        config_name="features",
    )
    path = extract_features(cfg)
    saved = torch.load(path, weights_only=True)
    features, labels = saved["features"], saved["labels"]
    assert features.shape == (len(labels), 1024)  # alexnet_mini's fc7 width
    assert features.min() >= 0  # after fc7's ReLU
    assert saved["class_names"] == ["a", "b", "c"] and set(labels.tolist()) <= {0, 1, 2}
    if split == "train":  # no random augmentation: the same features twice
        again = torch.load(extract_features(cfg), weights_only=True)["features"]
        torch.testing.assert_close(again, features)


def test_exports_give_the_checkpoints_logits(trained, tmp_path):
    import onnxruntime

    ckpt, _ = trained
    net = load_classifier(read_checkpoint(ckpt)).net.eval()
    images = torch.randn(3, 3, 32, 32)  # another batch size than the export's example
    with torch.no_grad():
        expected = net(images)
    ts, onnx_path, pt2 = export(str(ckpt), ["torchscript", "onnx", "pt2"], tmp_path)
    torch.testing.assert_close(torch.jit.load(str(ts))(images), expected)
    session = onnxruntime.InferenceSession(str(onnx_path))
    (logits,) = session.run(["logits"], {"images": images.numpy()})
    np.testing.assert_allclose(logits, expected.numpy(), rtol=1e-4, atol=1e-4)
    program = torch.export.load(str(pt2))
    torch.testing.assert_close(program.module()(images), expected)


def test_export_cli_errors_are_one_line(tmp_path):
    result = run_script("src/alexnet/export.py", str(tmp_path / "none.ckpt"))
    assert result.returncode == 2 and "does not exist" in result.stderr
