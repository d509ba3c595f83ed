"""Opt-in fast paths: compile (with its eager fallback), channels_last, determinism."""

import pytest
import torch

from alexnet.builder import load_model
from alexnet.errors import UserError
from alexnet.fast import CompiledForward, compile_net
from alexnet.models import AlexNet
from alexnet.tasks.train import train
from conftest import compose_config, run_task

SHORT = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "test=false",
    "logger=csv",
    "~callbacks.progress_bar",
    "~callbacks.model_summary",
    "~callbacks.conv1_filters",
    "~callbacks.validation_predictions",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "data.batch_size=4",
    "optimizer=sgd",  # smaller checkpoints than AdamW's (the 227-px nets: 57 M parameters)
    "fault_tolerance.checkpoint_every_n_steps=1000",  # last.ckpt at the epoch's end only
]


def mini() -> AlexNet:
    return AlexNet(arch="mini", input_size=32, num_classes=10, norm="bn", groups=1).eval()


def compiled_graphs() -> int:
    return torch._dynamo.utils.counters["stats"]["unique_graphs"]


def test_compile_really_compiles_and_gives_the_same_logits():
    """Dynamo captures the network's graph and AOTAutograd compiles forward and
    backward (the aot_eager backend: the real pipeline without C++ code generation)."""
    torch._dynamo.reset()
    net, x = mini(), torch.randn(2, 3, 32, 32)
    expected = net(x)
    compile_net(net, "aot_eager")
    before = compiled_graphs()
    out = net(x)
    assert compiled_graphs() > before and net.forward.compiled is not None  # no fallback
    torch.testing.assert_close(out, expected)
    assert list(net.state_dict()) == list(mini().state_dict())  # checkpoints unchanged


def test_a_failing_compile_warns_once_and_runs_eager(capsys):
    net, x = mini(), torch.randn(2, 3, 32, 32)
    expected = net(x)
    compile_net(net, "no_such_backend")
    torch.testing.assert_close(net(x), expected)
    warned = capsys.readouterr().err.splitlines()
    assert (
        sum(line.startswith("warning: torch.compile failed, the run continues") for line in warned)
        == 1
    )


def test_compile_strict_stops_instead_of_falling_back(monkeypatch):
    """``compile=strict`` is inductor without the fallback: a compiler that fails (here
    an unusable C++ compiler) stops the run with one line."""
    torch._dynamo.reset()
    import torch._inductor.config as inductor

    monkeypatch.setattr(inductor.cpp, "cxx", ("/nonexistent/c++",))
    net = mini()
    compile_net(net, "strict")
    with pytest.raises(UserError, match="compile=strict: torch.compile failed"):
        net(torch.randn(2, 3, 32, 32))


def test_training_with_compile_and_channels_last(tmp_path):
    torch._dynamo.reset()
    before = compiled_graphs()
    cfg = compose_config(tmp_path, *SHORT, "compile=aot_eager", "channels_last=true")
    metrics = run_task(train, cfg)
    assert metrics["train/loss_epoch"] > 0 and compiled_graphs() > before
    loaded = load_model(tmp_path / "checkpoints" / "last.ckpt")
    assert not isinstance(loaded.net.forward, CompiledForward)  # loads plain


@pytest.mark.slow
def test_training_with_inductor(tmp_path):
    """The real compiler (C++ code generation on the CPU): minutes on 2 cores."""
    assert run_task(train, compose_config(tmp_path, *SHORT, "compile=true"))["train/loss_epoch"] > 0


def final_weights(run_dir) -> dict:
    state = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["alexnet", "alexnet_bn", "alexnet_mini", "alexnet_torchvision"])
def test_deterministic_mode_repeats_exactly(model, tmp_path):
    runs = []
    for name in ("a", "b"):
        run_task(
            train,
            compose_config(tmp_path / name, *SHORT, f"model={model}", "trainer.deterministic=true"),
        )
        runs.append(final_weights(tmp_path / name))
    assert runs[0].keys() == runs[1].keys()
    for key in runs[0]:
        torch.testing.assert_close(runs[0][key], runs[1][key], rtol=0, atol=0)
