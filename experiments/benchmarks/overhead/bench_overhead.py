"""Per-step overhead: the same model, data, seed and steps through the project's
training task (what `python train.py` runs) and through a plain PyTorch loop written
here doing the same per-batch work, in the same process, side by side: after each of
the task's steps the plain loop takes one, and each is timed apart (step_clock.py), from
step ``--skip`` on (set-up and warm-up left out: the start-up benchmark measures
those). Prints the mean time per step of each, their ratio, and compares the losses of
the two run separately (the same initialisation, data, order and dropout masks).

    python experiments/benchmarks/overhead/bench_overhead.py [--steps 110] [--repeats 3]
"""

import argparse
import csv
import gc
import statistics
import sys
import tempfile
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from alexnet.builder import build_data, build_net, settle_classes
from alexnet.run.cli import compose, spec_of
from alexnet.tasks.train import train

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parents[2] / "configs"
SEED, BATCH = 42, 64
LOG_EVERY = 10  # the task's trainer.log_every_n_steps
sys.path.insert(0, str(HERE))  # step_clock.StepClock, which the task's config names


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


def side_by_side(steps: int, skip: int) -> tuple[float, float]:
    """The task's and the plain loop's mean seconds per step, from step ``skip`` on: after
    each of the task's steps the plain loop takes one (step_clock.StepClock)."""
    import step_clock

    step_clock.MADE.clear()
    step_clock.BETWEEN = PlainLoop(steps).step
    try:
        with tempfile.TemporaryDirectory() as tmp:
            clock = [
                "+callbacks.clock._target_=step_clock.StepClock",
                f"+callbacks.clock.skip={skip}",
            ]
            train(spec_of(train, config(Path(tmp), steps, "logger=none", *clock)))
    finally:
        step_clock.BETWEEN = None
    (clock_,) = step_clock.MADE
    return statistics.fmean(clock_.ours), statistics.fmean(clock_.plain)


def lightning_losses(steps: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        train(spec_of(train, config(Path(tmp), steps, "logger=csv", "trainer.log_every_n_steps=1")))
        with open(Path(tmp) / "csv" / "metrics.csv") as f:
            return [float(r["train/loss_step"]) for r in csv.DictReader(f) if r["train/loss_step"]]


class PlainLoop:
    """The loop a PyTorch user would write for the same job, doing the task's per-batch
    work: the digits resized and normalised once, reshuffled each epoch as the task's
    sampler does (seed + epoch); for each batch the loss, a check that it is finite, the
    batch's top-1 and the epoch's running loss, top-1 and top-5 counts, a check that the
    gradients are finite, and every ``LOG_EVERY`` steps the loss and top-1 kept (the
    task's log row)."""

    def __init__(self, steps: int):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = config(Path(tmp), steps)
        L.seed_everything(SEED, workers=True, verbose=False)
        parts = spec_of(train, cfg).parts()
        datamodule = build_data(parts.data)
        self.model = build_net(settle_classes(parts, datamodule).model).train()
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4
        )
        raw, self.labels = datamodule.train_set.tensors
        self.images = datamodule.pipeline(raw, None)
        self.losses: list[float] = []
        self.log: list[tuple[int, float, float]] = []
        self.batches: list[torch.Tensor] = []
        self.epoch = -1

    def step(self) -> None:
        if not self.batches:
            self.epoch += 1
            seeded = torch.Generator().manual_seed(SEED + self.epoch)
            self.batches = list(torch.randperm(len(self.labels), generator=seeded).split(BATCH))
            self.sums = torch.zeros(3)  # the epoch's loss, top-1 and top-5 counts
        batch = self.batches.pop(0)
        logits, targets = self.model(self.images[batch]), self.labels[batch]
        loss = F.cross_entropy(logits, targets)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss is {loss.item()}")
        with torch.no_grad():
            correct = logits.topk(5, 1).indices == targets[:, None]
            self.sums += torch.stack(
                [loss * len(targets), correct[:, 0].sum(), correct.any(1).sum()]
            )
            batch_top1 = correct[:, 0].float().mean()
        self.optimizer.zero_grad()
        loss.backward()
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not torch.isfinite(torch.nn.utils.get_total_norm(grads)):
            raise FloatingPointError("a gradient is not finite")
        self.optimizer.step()
        self.losses.append(loss.item())
        if len(self.losses) % LOG_EVERY == 0:
            self.log.append((len(self.losses), self.losses[-1], batch_top1.item()))


def plain_losses(steps: int) -> list[float]:
    loop = PlainLoop(steps)
    for _ in range(steps):
        loop.step()
    return loop.losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=110)
    parser.add_argument("--skip", type=int, default=10, help="warm-up steps not timed")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not 0 <= args.skip < args.steps - 1:
        parser.error("--skip must be less than --steps - 1")
    gc.freeze()  # as `python train.py` does after its imports (alexnet.run.command)
    runs = [side_by_side(args.steps, args.skip) for _ in range(args.repeats)]
    ratios = [ours / plain for ours, plain in runs]
    ours_m, plain_m = (statistics.median(side) for side in zip(*runs, strict=True))
    losses, plain = lightning_losses(args.steps), plain_losses(args.steps)
    diff = max(abs(a - b) for a, b in zip(losses, plain, strict=True))
    timed = args.steps - args.skip - 1
    print(
        f"alexnet_mini on digits, batch {BATCH}, SGD, CPU, {torch.get_num_threads()} threads: "
        f"{timed} steps of each side timed (after {args.skip}), one plain step after each "
        f"of the task's, {args.repeats} runs\n"
    )
    print("| path | ms per step | steps/s |")
    print("| --- | --- | --- |")
    print(f"| train task (Lightning + Hydra) | {ours_m * 1e3:.1f} | {1 / ours_m:.2f} |")
    print(f"| plain PyTorch loop | {plain_m * 1e3:.1f} | {1 / plain_m:.2f} |")
    print(
        f"\nper-step time ratio train task / plain loop: {statistics.median(ratios):.3f} "
        f"(median of the runs' ratios: {', '.join(f'{r:.3f}' for r in ratios)})"
    )
    print(
        f"losses: {len(losses)} steps compared, first {losses[0]:.6f} vs {plain[0]:.6f}, "
        f"largest difference {diff:.2e}"
    )


if __name__ == "__main__":
    main()
