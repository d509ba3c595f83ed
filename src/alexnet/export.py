"""Export a checkpoint's network to TorchScript, ONNX and/or torch.export (pt2).

    python -m alexnet.export <run>/checkpoints/last.ckpt [--format torchscript onnx] [--out DIR]

Both files take a float batch (N, C, S, S) at the model's input size S and return logits;
the batch dimension is dynamic. ONNX needs the ``export`` extra
(``pip install -e '.[export]'``). Exit status 2 and one line on a user error.
"""

import argparse
import warnings
from pathlib import Path

import torch
from torch import nn

from alexnet.checkpoints import load_classifier, read_checkpoint
from alexnet.cli import user_errors_exit_2
from alexnet.errors import UserError

FORMATS = ("torchscript", "onnx", "pt2")


def example_input(net: nn.Module, batch: int = 2) -> torch.Tensor:
    size = net.input_size
    return torch.randn(batch, net.in_channels, size, size)


def batch_dim() -> dict:
    return {"x": {0: torch.export.Dim("batch", min=1)}}


def export_torchscript(net: nn.Module, path: Path) -> Path:
    """A traced TorchScript module (the network has no data-dependent control flow).
    torch deprecates TorchScript in favour of torch.export (``pt2``); C++ and mobile
    runtimes still read it, so it stays, without the deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(net, example_input(net))
    traced.save(str(path))
    return path


def export_pt2(net: nn.Module, path: Path) -> Path:
    """A torch.export ExportedProgram (load with ``torch.export.load``)."""
    program = torch.export.export(net, (example_input(net),), dynamic_shapes=batch_dim())
    torch.export.save(program, str(path))
    return path


def export_onnx(net: nn.Module, path: Path) -> Path:
    """An ONNX graph with input ``images`` and output ``logits``, dynamic batch size."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise UserError("ONNX export needs the export extra: pip install -e '.[export]'") from None
    torch.onnx.export(
        net,
        (example_input(net),),
        str(path),
        input_names=["images"],
        output_names=["logits"],
        dynamic_shapes=batch_dim(),
        dynamo=True,
        external_data=False,  # one self-contained file (AlexNet is far below 2 GB)
    )
    return path


def export(ckpt_path: str, formats: list[str], out: Path | None = None) -> list[Path]:
    """Write the checkpoint's network in each of ``formats`` next to it (or into ``out``)."""
    net = load_classifier(read_checkpoint(ckpt_path)).net.eval().cpu()
    out = out or Path(ckpt_path).parent
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(ckpt_path).stem
    writers = {
        "torchscript": (export_torchscript, ".ts"),
        "onnx": (export_onnx, ".onnx"),
        "pt2": (export_pt2, ".pt2"),
    }
    return [writers[f][0](net, out / f"{stem}{writers[f][1]}") for f in formats]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export a checkpoint to TorchScript / ONNX.")
    parser.add_argument("ckpt_path")
    parser.add_argument("--format", nargs="+", choices=FORMATS, default=["torchscript", "onnx"])
    parser.add_argument("--out", type=Path, default=None, help="folder (default: the checkpoint's)")
    args = parser.parse_args(argv)
    with user_errors_exit_2():
        for path in export(args.ckpt_path, args.format, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
