"""The prediction task: a checkpoint's top-5 classes for image files."""

import json
from pathlib import Path

import torch

from alexnet.builder import load_model
from alexnet.console import inform, show_table
from alexnet.data.loading.transforms import eval_transform
from alexnet.data.storage.files import IMAGE_EXTENSIONS, load_rgb
from alexnet.errors import UserError
from alexnet.spec import PredictSpec


def image_paths(inputs: list[str]) -> list[Path]:
    """The image files among ``inputs``: files as given, folders searched recursively."""
    paths = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
            paths += found
        elif path.is_file():
            paths.append(path)
        else:
            raise UserError(f"input {item} does not exist")
    if not inputs:
        raise UserError(
            "inputs=[] names no images: give inputs=[cat.jpg,photos/] or inputs=cat.jpg"
        )
    if not paths:
        kinds = ", ".join(IMAGE_EXTENSIONS)
        raise UserError(
            f"no image files ({kinds}) in {', '.join(inputs)}: give images or folders of them"
        )
    return paths


def pick_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("mps" if torch.backends.mps.is_available() else "cpu")


def predict(spec: PredictSpec) -> list[dict]:
    """Print, for each image of ``spec.inputs``, the ``spec.top_k`` most likely classes
    with their probabilities; write them to ``predictions.json`` in the run directory,
    and with ``spec.gradcam`` a Grad-CAM heat map of the top class per image."""
    loaded = load_model(spec.ckpt_path)
    names = loaded.record.class_names or [
        str(i) for i in range(loaded.record.model.kwargs["num_classes"])
    ]
    device = pick_device(spec.device)
    net = loaded.net.to(device)
    transform = eval_transform(loaded.record.preprocessing.model_dump())
    inputs = spec.inputs
    paths = image_paths([inputs] if isinstance(inputs, str) else list(inputs))  # one, or a list
    output_dir = Path(spec.paths.output_dir)
    results = []
    readable, skipped = [], []
    for path in paths:  # an unreadable file is reported, not fatal, when predicting
        try:
            readable.append((path, load_rgb(str(path))))
        except UserError as err:
            skipped.append({"image": str(path), "error": str(err)})
    for start in range(0, len(readable), spec.batch_size):
        chunk, images = zip(*readable[start : start + spec.batch_size], strict=True)
        batch = torch.stack([transform(image) for image in images]).to(device)
        with torch.no_grad():
            probs = net(batch).softmax(dim=-1)
        top = probs.topk(min(spec.top_k, probs.shape[-1]), dim=-1)
        for path, p, i in zip(chunk, top.values.tolist(), top.indices.tolist(), strict=True):
            results.append(
                {
                    "image": str(path),
                    "top": [
                        {"class": names[c], "probability": q} for c, q in zip(i, p, strict=True)
                    ],
                }
            )
        if spec.gradcam:
            from alexnet.gradcam import gradcam, save_overlay

            layer = loaded.info.layer("gradcam_layer", net)
            heat = gradcam(net, layer, batch, top.indices[:, 0])
            for k, (path, image) in enumerate(zip(chunk, images, strict=True)):
                title = f"{names[top.indices[k, 0]]} ({top.values[k, 0]:.1%})"
                where = save_overlay(
                    image,
                    heat[k],
                    title,
                    output_dir / "gradcam" / f"{start + k:04d}_{path.stem}.png",
                )
                results[start + k]["gradcam"] = str(where)
    results += skipped
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "predictions.json").write_text(json.dumps(results, indent=2) + "\n")
    print_predictions(results)
    inform(f"predictions written to {output_dir / 'predictions.json'}")
    return results


def print_predictions(results: list[dict]) -> None:
    rows = [
        [
            result["image"],
            f"error: {result['error']}"
            if "error" in result
            else "\n".join(f"{t['class']}  {t['probability']:.1%}" for t in result["top"]),
        ]
        for result in results
    ]
    show_table("Predictions", ["image", "top classes (probability)"], rows, row_lines=True)
