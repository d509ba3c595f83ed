"""Training throughput of the paper's network on synthetic data resident on the device:
fp32, bf16-mixed, bf16 + channels_last, and + torch.compile, each through Lightning
(the project's ClassifierModule) and through a plain PyTorch loop, with model FLOPs
utilisation against the device's measured bf16 matmul peak.

    python experiments/benchmarks/gpu_throughput/bench_gpu.py            # on a GPU
    python experiments/benchmarks/gpu_throughput/bench_gpu.py --device cpu --batch 4 \
        --steps 1 --warmup 1 --settings fp32 bf16-mixed      # a smoke run without a GPU
"""

import argparse
import functools
import time

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from alexnet.fast import compile_net, to_channels_last
from alexnet.models import AlexNet
from alexnet.module import ClassifierModule

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


def step_flops(batch: int, size: int) -> int:
    """FLOPs of one training step (forward + backward) of the paper's network."""
    net, x = AlexNet(), torch.randn(batch, 3, size, size)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(x), torch.randint(0, 1000, (batch,))).backward()
    return counter.get_total_flops()


def plain_loop(images, targets, bf16, channels_last, compiled, steps, warmup) -> float:
    net = AlexNet().to(images.device)
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


def lightning_loop(images, targets, bf16, channels_last, compiled, steps, warmup) -> float:
    module = ClassifierModule(
        AlexNet(),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    targets = torch.randint(0, 1000, (args.batch,), device=device)
    flops = step_flops(args.batch, args.size)
    peak = bf16_peak(device, n=8192 if device.type == "cuda" else 1024)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"alexnet (paper layout, 1000 classes) at {args.size}×{args.size}, batch {args.batch}, "
        f"{args.steps} timed steps after {args.warmup}, on {name}; "
        f"{flops / args.batch / 1e9:.2f} GFLOP per image per training step; "
        f"measured bf16 matmul peak {peak / 1e12:.1f} TFLOP/s\n"
    )
    print("| setting | path | images/s | MFU | Lightning / plain |")
    print("| --- | --- | --- | --- | --- |")
    for setting in args.settings:
        options = SETTINGS[setting]
        rates = {}
        for path, run in (("plain", plain_loop), ("Lightning", lightning_loop)):
            torch.manual_seed(0)
            rates[path] = run(images, targets, *options, args.steps, args.warmup)
        for path, steps_per_s in rates.items():
            ratio = rates["plain"] / rates["Lightning"] if path == "Lightning" else 1.0
            print(
                f"| {setting} | {path} | {steps_per_s * args.batch:.0f} | "
                f"{steps_per_s * flops / peak:.1%} | {ratio:.3f} |"
            )


if __name__ == "__main__":
    main()
