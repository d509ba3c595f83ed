"""The export task: a checkpoint's network as TorchScript, ONNX and/or torch.export.

Each file takes a float batch (N, C, S, S) — the image after the checkpoint's
preprocessing — and returns logits; the batch dimension is dynamic. Beside the files,
``<stem>.preprocessing.json`` says how to prepare an image (resize, crop, mean, std,
channels) and names the classes, so the exports can be used without this package.
"""

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from alexnet.builder import LoadedModel, load_model
from alexnet.console import inform
from alexnet.errors import UserError
from alexnet.spec import ExportSpec

Shape = tuple[int, int, int]


def example_input(shape: Shape, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, *shape)


def batch_dim() -> dict:
    return {"x": {0: torch.export.Dim("batch", min=1)}}


def export_torchscript(net: nn.Module, shape: Shape, path: Path) -> Path:
    """A traced TorchScript module (the network has no data-dependent control flow).
    torch deprecates TorchScript in favour of torch.export (``pt2``); C++ and mobile
    runtimes still read it, so it stays, without the deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(net, example_input(shape))
    traced.save(str(path))
    return path


def export_pt2(net: nn.Module, shape: Shape, path: Path) -> Path:
    """A torch.export ExportedProgram (load with ``torch.export.load``)."""
    program = torch.export.export(net, (example_input(shape),), dynamic_shapes=batch_dim())
    torch.export.save(program, str(path))
    return path


def export_onnx(net: nn.Module, shape: Shape, path: Path) -> Path:
    """An ONNX graph with input ``images`` and output ``logits``, dynamic batch size."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise UserError("ONNX export needs the export extra: pip install -e '.[export]'") from None
    torch.onnx.export(
        net,
        (example_input(shape),),
        str(path),
        input_names=["images"],
        output_names=["logits"],
        dynamic_shapes=batch_dim(),
        dynamo=True,
        external_data=False,  # one self-contained file (AlexNet is far below 2 GB)
    )
    return path


WRITERS: dict[str, tuple[Callable[[nn.Module, Shape, Path], Path], str]] = {
    "torchscript": (export_torchscript, ".ts"),
    "onnx": (export_onnx, ".onnx"),
    "pt2": (export_pt2, ".pt2"),
}


def write_preprocessing(loaded: LoadedModel, path: Path) -> Path:
    """The recipe an exported model's input needs, as JSON."""
    recipe = {
        "model": loaded.record.model.name,
        "input_shape": list(loaded.input_shape),
        "preprocessing": loaded.record.preprocessing.model_dump(),
        "steps": "RGB (grayscale if channels is 1); resize the shorter side to `resize` "
        "(bilinear, antialiased); central crop×crop; scale to [0, 1]; (x - mean) / std "
        "per channel; batch as (N, C, crop, crop) float32",
        "class_names": loaded.record.class_names,
    }
    path.write_text(json.dumps(recipe, indent=2) + "\n")
    return path


def export(spec: ExportSpec) -> list[Path]:
    """Write the network of ``spec.ckpt_path`` in each of ``spec.formats`` into
    ``spec.out`` (default: beside the checkpoint), with its preprocessing JSON."""
    if not spec.formats:
        raise UserError(f"formats=[]: choose from {', '.join(WRITERS)}")
    loaded = load_model(spec.ckpt_path)
    out = Path(spec.out) if spec.out else Path(spec.ckpt_path).parent
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(spec.ckpt_path).stem
    written = [
        WRITERS[f][0](loaded.net, loaded.input_shape, out / f"{stem}{WRITERS[f][1]}")
        for f in spec.formats
    ]
    written.append(write_preprocessing(loaded, out / f"{stem}.preprocessing.json"))
    for path in written:
        inform(f"wrote {path}")
    return written
