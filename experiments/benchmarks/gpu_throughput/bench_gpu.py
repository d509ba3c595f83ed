"""Training throughput of the paper's network (227 px) and of alexnet_torchvision (224 px)
on synthetic data resident on the device: fp32, bf16-mixed, bf16 + channels_last, and
+ torch.compile, each through Lightning (the project's ClassifierModule) and through a
plain PyTorch loop, and torchvision's own ``alexnet()`` in the plain loop; model FLOPs
utilisation (FLOPs from torch's counter) against the device's dense bf16 peak (the
datasheet's where the device is known, and a measured bf16 matmul). Where the best
setting stays under 40% MFU, or Lightning costs more than 3% over the plain loop, a
torch.profiler table of the top kernels is written (``--profile-dir``).

    python experiments/benchmarks/gpu_throughput/bench_gpu.py            # on a GPU
    python experiments/benchmarks/gpu_throughput/bench_gpu.py --device cpu --batch 4 \
        --steps 1 --warmup 1 --settings fp32 bf16-mixed      # a smoke run without a GPU
"""

import argparse
import functools
import json
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from alexnet.fast import compile_net, to_channels_last
from alexnet.models import create_model, model_info
from alexnet.module import ClassifierModule

#: Dense bf16 tensor-core peaks from the vendors' datasheets (SXM parts), TFLOP/s.
DATASHEET_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0}
MFU_GOAL, OVERHEAD_GOAL = 0.40, 1.03

SETTINGS = {  # name: (bf16, channels_last, compile)
    "fp32": (False, False, False),
    "bf16-mixed": (True, False, False),
    "bf16 + channels_last": (True, True, False),
    "bf16 + channels_last + compile": (True, True, True),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bf16_peak(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    """Measured FLOP/s of a square bf16 matmul: the ceiling MFU is measured against."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    a @ a
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def datasheet_peak(name: str) -> float | None:
    """The datasheet's dense bf16 FLOP/s of a device named ``name``, if known."""
    return next((t * 1e12 for key, t in DATASHEET_BF16_TFLOPS.items() if key in name), None)


def build(model: str) -> torch.nn.Module:
    """A network of 1000 classes: a registered model, or torchvision's own alexnet()."""
    if model == "torchvision.alexnet":
        return torchvision.models.alexnet()
    return create_model(model, num_classes=1000)


def step_flops(model: str, batch: int, size: int) -> int:
    """FLOPs of one training step (forward + backward), by torch's counter."""
    net, x = build(model), torch.randn(batch, 3, size, size)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(x), torch.randint(0, 1000, (batch,))).backward()
    return counter.get_total_flops()


def plain_loop(model, images, targets, bf16, channels_last, compiled, steps, warmup) -> float:
    net = build(model).to(images.device)
    if channels_last:
        net, images = net.to(memory_format=torch.channels_last), to_channels_last(images)
    if compiled:
        compile_net(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    autocast = torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16)
    for step in range(warmup + steps):
        if step == warmup:
            sync(images.device)
            start = time.perf_counter()
        with autocast:
            loss = F.cross_entropy(net(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync(images.device)
    return steps / (time.perf_counter() - start)


class StepTimer(L.Callback):
    """Times the training steps after the warm-up ones."""

    def __init__(self, warmup: int):
        self.warmup, self.start = warmup, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.warmup:
            sync(pl_module.device)
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        sync(pl_module.device)
        self.seconds = time.perf_counter() - self.start


class SameBatch:
    """One device-resident batch, ``steps`` times (a list would mean several loaders)."""

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, steps: int):
        self.batch, self.steps = (images, targets), steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        return iter([self.batch] * self.steps)


def lightning_loop(model, images, targets, bf16, channels_last, compiled, steps, warmup) -> float:
    module = ClassifierModule(
        build(model),
        functools.partial(torch.optim.SGD, lr=0.01, momentum=0.9, weight_decay=5e-4),
        compile=compiled,
        channels_last=channels_last,
    )
    timer = StepTimer(warmup)
    trainer = L.Trainer(
        accelerator=images.device.type,
        devices=1,
        precision="bf16-mixed" if bf16 else "32-true",
        max_steps=warmup + steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(module, train_dataloaders=SameBatch(images, targets, warmup + steps))
    return steps / timer.seconds


def profile(model, images, targets, bf16, channels_last, compiled, path: Path) -> None:
    """torch.profiler's table of the top kernels over 5 plain-loop steps of a setting."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    plain_loop(model, images, targets, bf16, channels_last, compiled, 3, 2)  # warm
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if images.is_cuda else [])
    with profiler(activities=activities) as prof:
        plain_loop(model, images, targets, bf16, channels_last, compiled, 5, 0)
    key = "cuda_time_total" if images.is_cuda else "cpu_time_total"
    path.write_text(prof.key_averages().table(sort_by=key, row_limit=25))


def measure(model: str, args, device: torch.device, peak: float) -> list[dict]:
    """Every setting of ``model`` through the plain loop and Lightning (torchvision's
    alexnet(): the plain loop only), images/s and MFU."""
    size = 224 if model == "torchvision.alexnet" else model_info(model).input_size
    images = torch.randn(args.batch, 3, size, size, device=device)
    targets = torch.randint(0, 1000, (args.batch,), device=device)
    flops = step_flops(model, args.batch, size)
    paths = {"plain": plain_loop}
    if model != "torchvision.alexnet":
        paths["Lightning"] = lightning_loop
    rows = []
    for setting in args.settings:
        rates = {}
        for path, run in paths.items():
            torch.manual_seed(0)
            rates[path] = run(model, images, targets, *SETTINGS[setting], args.steps, args.warmup)
        for path, steps_per_s in rates.items():
            rows.append(
                {
                    "model": model,
                    "size": size,
                    "setting": setting,
                    "path": path,
                    "images_per_s": steps_per_s * args.batch,
                    "mfu": steps_per_s * flops / peak,
                    "lightning_over_plain": rates["plain"] / steps_per_s,
                    "gflop_per_image": flops / args.batch / 1e9,
                }
            )
    best = max(rows, key=lambda r: r["mfu"])
    overhead = max((r["lightning_over_plain"] for r in rows if r["path"] == "Lightning"), default=1)
    if args.profile_dir and (best["mfu"] < MFU_GOAL or overhead > OVERHEAD_GOAL):
        args.profile_dir.mkdir(parents=True, exist_ok=True)
        where = args.profile_dir / f"profile_{model}.txt"
        profile(model, images, targets, *SETTINGS[best["setting"]], where)
        print(f"{model}: goal missed; top kernels of '{best['setting']}' in {where}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument(
        "--models",
        nargs="+",
        default=["alexnet", "alexnet_torchvision", "torchvision.alexnet"],
        help="registered models, or torchvision.alexnet (torchvision's own, 224 px)",
    )
    parser.add_argument("--profile-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    measured = bf16_peak(device, n=8192 if device.type == "cuda" else 1024)
    sheet = datasheet_peak(name)
    peak = sheet or measured
    print(
        f"batch {args.batch}, {args.steps} timed steps after {args.warmup}, on {name}; "
        f"MFU against {peak / 1e12:.0f} TFLOP/s dense bf16 "
        f"({'the datasheet' if sheet else 'measured'}; a bf16 matmul measured "
        f"{measured / 1e12:.1f} TFLOP/s)\n"
    )
    print("| model | px | GFLOP/img | setting | path | images/s | MFU | Lightning / plain |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for model in args.models:
        for row in measure(model, args, device, peak):
            rows.append(row)
            print(
                f"| {row['model']} | {row['size']} | {row['gflop_per_image']:.2f} | "
                f"{row['setting']} | {row['path']} | {row['images_per_s']:.0f} | "
                f"{row['mfu']:.1%} | {row['lightning_over_plain']:.3f} |",
                flush=True,
            )
    if args.json:
        summary = {"device": name, "peak_flops": peak, "measured_bf16_flops": measured}
        args.json.write_text(json.dumps({**summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
