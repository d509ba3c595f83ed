"""Framework overhead: the same model, data, seed and number of steps through the
project's training task (what `python train.py` runs) and through a plain PyTorch loop
written here, in the same process. Prints the time ratio and compares the losses.

    python experiments/benchmarks/overhead/bench_overhead.py [--steps 60] [--repeats 2]
"""

import argparse
import csv
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from alexnet.builder import build_data, build_net, settle_classes
from alexnet.run.cli import compose, spec_of
from alexnet.tasks.train import train

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
SEED, BATCH = 42, 64


def config(run_dir: Path, steps: int, *extra: str):
    overrides = [
        f"paths.output_dir={run_dir}",
        f"paths.log_dir={run_dir}",
        "paths.root_dir=.",
        "model=alexnet_mini",
        "data=digits",
        f"data.batch_size={BATCH}",
        "optimizer=sgd",
        "scheduler=none",
        "callbacks=none",
        "test=false",
        "label_smoothing=0.0",  # the plain loop uses plain cross-entropy
        f"seed={SEED}",
        "trainer.accelerator=cpu",
        f"+trainer.max_steps={steps}",
        "trainer.max_epochs=-1",
        "trainer.limit_val_batches=0",
        "+trainer.num_sanity_val_steps=0",
        "+trainer.enable_checkpointing=false",
        "trainer.enable_progress_bar=false",
        "trainer.enable_model_summary=false",
        *extra,
    ]
    return compose(CONFIGS, "train", overrides)


def lightning_run(steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(Path(tmp), steps, "logger=none")
        start = time.perf_counter()
        train(spec_of(train, cfg))
        return time.perf_counter() - start


def lightning_losses(steps: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        train(spec_of(train, config(Path(tmp), steps, "logger=csv", "trainer.log_every_n_steps=1")))
        with open(Path(tmp) / "csv" / "metrics.csv") as f:
            return [float(r["train/loss_step"]) for r in csv.DictReader(f) if r["train/loss_step"]]


def plain_run(steps: int) -> tuple[float, list[float]]:
    """The loop a PyTorch user would write for the same job: the digits resized and
    normalised once, reshuffled each epoch as the task's sampler does (seed + epoch)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(Path(tmp), steps)
    start = time.perf_counter()
    L.seed_everything(SEED, workers=True, verbose=False)
    parts = spec_of(train, cfg).parts()
    datamodule = build_data(parts.data)
    model = build_net(settle_classes(parts, datamodule).model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    raw, labels = datamodule.train_set.tensors
    images = datamodule.pipeline(raw, None)
    model.train()
    losses, epoch = [], 0
    while len(losses) < steps:
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED + epoch))
        for batch in order.split(BATCH):
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == steps:
                break
        epoch += 1
    return time.perf_counter() - start, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    lightning_times, plain_times = [], []
    for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both
        lightning_times.append(lightning_run(args.steps))
        seconds, plain_losses = plain_run(args.steps)
        plain_times.append(seconds)
    ours = lightning_losses(args.steps)
    diff = max(abs(a - b) for a, b in zip(ours, plain_losses, strict=True))
    best_l, best_p = min(lightning_times), min(plain_times)
    print(
        f"alexnet_mini on digits, batch {BATCH}, {args.steps} SGD steps, CPU, "
        f"{torch.get_num_threads()} threads, best of {args.repeats}\n"
    )
    print("| path | seconds | steps/s |")
    print("| --- | --- | --- |")
    print(f"| train task (Lightning + Hydra) | {best_l:.2f} | {args.steps / best_l:.2f} |")
    print(f"| plain PyTorch loop | {best_p:.2f} | {args.steps / best_p:.2f} |")
    print(f"\ntime ratio train task / plain loop: {best_l / best_p:.3f}")
    print(
        f"losses: {len(ours)} steps compared, first {ours[0]:.6f} vs {plain_losses[0]:.6f}, "
        f"largest difference {diff:.2e}"
    )


if __name__ == "__main__":
    main()
