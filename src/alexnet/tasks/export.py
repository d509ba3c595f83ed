"""The export task: a checkpoint's network as TorchScript, ONNX and/or torch.export.

Each file takes a float batch (N, C, S, S) — the image after the checkpoint's
preprocessing — and returns logits; the batch dimension is dynamic. Beside the files,
``<stem>.preprocessing.json`` says how to prepare an image (resize, crop, mean, std,
channels) and names the classes, so the exports can be used without this package.
"""

import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from alexnet.atomic import write_atomically
from alexnet.builder import LoadedModel, load_model
from alexnet.console import inform
from alexnet.errors import UserError
from alexnet.spec import ExportSpec

Shape = tuple[int, int, int]


def example_input(shape: Shape, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, *shape)


def batch_dim() -> dict:
    return {"x": {0: torch.export.Dim("batch", min=1)}}


def export_torchscript(net: nn.Module, shape: Shape) -> bytes:
    """A traced TorchScript module (the network has no data-dependent control flow).
    torch deprecates TorchScript in favour of torch.export (``pt2``); C++ and mobile
    runtimes still read it, so it stays, without the deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(net, example_input(shape))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return buffer.getvalue()


def export_pt2(net: nn.Module, shape: Shape) -> bytes:
    """A torch.export ExportedProgram (load with ``torch.export.load``)."""
    program = torch.export.export(net, (example_input(shape),), dynamic_shapes=batch_dim())
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


def export_onnx(net: nn.Module, shape: Shape) -> bytes:
    """An ONNX graph with input ``images`` and output ``logits``, dynamic batch size, its
    weights inside (AlexNet is far below protobuf's 2 GB)."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise UserError("ONNX export needs the export extra: pip install -e '.[export]'") from None
    program = torch.onnx.export(
        net,
        (example_input(shape),),
        input_names=["images"],
        output_names=["logits"],
        dynamic_shapes=batch_dim(),
        dynamo=True,
    )
    return program.model_proto.SerializeToString()


#: Each format's file, made in memory and written whole (a disk that fills is one line).
WRITERS: dict[str, tuple[Callable[[nn.Module, Shape], bytes], str]] = {
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
    text = (json.dumps(recipe, indent=2) + "\n").encode()
    write_atomically(path, lambda file: file.write(text))
    return path


def export(spec: ExportSpec) -> list[Path]:
    """Write the network of ``spec.ckpt_path`` in each of ``spec.formats`` into
    ``spec.out`` (default: beside the checkpoint), with its preprocessing JSON."""
    if not spec.formats:
        raise UserError(f"formats=[]: choose from {', '.join(WRITERS)}")
    loaded = load_model(spec.ckpt_path)
    out = Path(spec.out) if spec.out else Path(spec.ckpt_path).parent
    stem = Path(spec.ckpt_path).stem
    recipe = write_preprocessing(loaded, out / f"{stem}.preprocessing.json")  # first: a
    written = []  # place that cannot take a small file fails before the models are made
    for name in spec.formats:
        made, suffix = WRITERS[name]
        data = made(loaded.net, loaded.input_shape)
        written.append(out / f"{stem}{suffix}")
        write_atomically(written[-1], lambda file, data=data: file.write(data))
    written.append(recipe)
    for path in written:
        inform(f"wrote {path}")
    return written
