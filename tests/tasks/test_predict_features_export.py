"""predict.py, features.py and the exporters on a real trained checkpoint."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from alexnet.builder import load_model
from alexnet.tasks.export import export
from alexnet.tasks.features import extract_features
from conftest import compose_config, error_line, run_script, run_task
from fixtures import write_image

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def preprocess_by_hand(path, resize, crop, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """The README's preprocessing, written independently of the package: RGB, shorter side
    to ``resize`` (PIL bilinear), central ``crop``, [0, 1], per-channel standardisation."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    scale = resize / min(w, h)
    size = (resize, round(h * scale)) if w <= h else (round(w * scale), resize)
    image = image.resize(size, Image.BILINEAR)
    left, top = round((image.width - crop) / 2), round((image.height - crop) / 2)
    pixels = np.asarray(image.crop((left, top, left + crop, top + crop)), dtype=np.float32) / 255
    pixels = (pixels - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


@pytest.mark.slow
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
    """The probabilities printed are the network's softmax on the eval pipeline (for
    one image given as ``inputs=<file>``, not a list)."""
    from alexnet.tasks.predict import predict

    ckpt, data = trained
    image = tmp_path / "one.jpg"
    write_image(image, seed=7)
    cfg = compose_config(
        tmp_path, f"ckpt_path={ckpt}", f"inputs={image}", "device=cpu", config_name="predict"
    )
    (result,) = run_task(predict, cfg)
    net = load_model(ckpt).net
    with torch.no_grad():
        probs = net(preprocess_by_hand(image, resize=37, crop=32)[None]).softmax(-1)[0]
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
        "data.num_workers=0",
        config_name="features",
    )
    path = run_task(extract_features, cfg)
    saved = torch.load(path, weights_only=True)
    features, labels = saved["features"], saved["labels"]
    assert features.shape == (len(labels), 1024)  # alexnet_mini's fc7 width
    assert features.min() >= 0  # after fc7's ReLU
    assert saved["class_names"] == ["a", "b", "c"] and set(labels.tolist()) <= {0, 1, 2}
    if split == "train":  # no random augmentation: the same features twice
        again = torch.load(run_task(extract_features, cfg), weights_only=True)["features"]
        torch.testing.assert_close(again, features)


def test_exports_give_the_checkpoints_logits(trained, tmp_path):
    import onnxruntime

    ckpt, _ = trained
    net = load_model(ckpt).net
    images = torch.randn(3, 3, 32, 32)  # another batch size than the export's example
    with torch.no_grad():
        expected = net(images)
    cfg = compose_config(
        tmp_path,
        f"ckpt_path={ckpt}",
        f"out={tmp_path}",
        "formats=[torchscript,onnx,pt2]",
        config_name="export",
    )
    ts, onnx_path, pt2, recipe = run_task(export, cfg)
    torch.testing.assert_close(torch.jit.load(str(ts))(images), expected)
    session = onnxruntime.InferenceSession(str(onnx_path))
    (logits,) = session.run(["logits"], {"images": images.numpy()})
    np.testing.assert_allclose(logits, expected.numpy(), rtol=1e-4, atol=1e-4)
    program = torch.export.load(str(pt2))
    torch.testing.assert_close(program.module()(images), expected)


@pytest.mark.slow
def test_exported_models_give_the_logits_on_a_real_image(trained, tmp_path):
    """The documented preprocessing, done by hand with PIL and NumPy from the JSON
    written beside the exports, then ONNX Runtime and TorchScript: the checkpoint's
    logits within 1e-4."""
    import onnxruntime

    ckpt, data = trained
    result = run_script("export.py", f"ckpt_path={ckpt}", f"out={tmp_path}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    recipe = json.loads((tmp_path / "last.preprocessing.json").read_text())
    assert recipe["input_shape"] == [3, 32, 32] and recipe["class_names"] == ["a", "b", "c"]
    image = sorted(Path(data[0].split("=", 1)[1]).glob("a/*.jpg"))[0]
    steps = recipe["preprocessing"]
    batch = preprocess_by_hand(image, steps["resize"], steps["crop"], steps["mean"], steps["std"])
    with torch.no_grad():
        expected = load_model(ckpt).net(batch[None])
    session = onnxruntime.InferenceSession(str(tmp_path / "last.onnx"))
    (logits,) = session.run(["logits"], {"images": batch[None].numpy()})
    np.testing.assert_allclose(logits, expected.numpy(), rtol=0, atol=1e-4)
    traced = torch.jit.load(str(tmp_path / "last.ts"))
    np.testing.assert_allclose(traced(batch[None]).detach().numpy(), expected.numpy(), atol=1e-4)


def test_export_errors_are_one_line(tmp_path):
    result = run_script("export.py", f"ckpt_path={tmp_path / 'none.ckpt'}", cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in error_line(result)
