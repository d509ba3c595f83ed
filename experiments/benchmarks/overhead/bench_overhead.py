"""Per-step overhead: the same model, data, seed and steps through the project's
training task (what `python train.py` runs) and through a plain PyTorch loop written
here, in the same process, alternately. Each side's time per step is measured from
step ``--skip`` to the last (set-up and warm-up left out: the start-up benchmark
measures those); prints the medians, their ratio, and compares the losses.

    python experiments/benchmarks/overhead/bench_overhead.py [--steps 110] [--repeats 5]
"""

import argparse
import csv
import gc
import statistics
import sys
import tempfile
import time
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


def lightning_run(steps: int, skip: int) -> float:
    """The task's seconds per step, from step ``skip`` on."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = ["+callbacks.clock._target_=step_clock.StepClock", f"+callbacks.clock.skip={skip}"]
        train(spec_of(train, config(Path(tmp), steps, "logger=none", *clock)))
    from step_clock import MADE

    clock_ = MADE[-1]
    return (clock_.ended - clock_.started) / clock_.steps


def lightning_losses(steps: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        train(spec_of(train, config(Path(tmp), steps, "logger=csv", "trainer.log_every_n_steps=1")))
        with open(Path(tmp) / "csv" / "metrics.csv") as f:
            return [float(r["train/loss_step"]) for r in csv.DictReader(f) if r["train/loss_step"]]


def plain_run(steps: int, skip: int) -> tuple[float, list[float]]:
    """The loop a PyTorch user would write for the same job, doing the task's per-batch
    work: the digits resized and normalised once, reshuffled each epoch as the task's
    sampler does (seed + epoch); for each batch the loss, a check that it is finite, the
    batch's top-1 and the epoch's running loss, top-1 and top-5 counts, a check that the
    gradients are finite, and every ``LOG_EVERY`` steps the loss and top-1 kept (the
    task's log row). Its seconds per step from step ``skip`` on, and its losses."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(Path(tmp), steps)
    L.seed_everything(SEED, workers=True, verbose=False)
    parts = spec_of(train, cfg).parts()
    datamodule = build_data(parts.data)
    model = build_net(settle_classes(parts, datamodule).model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    raw, labels = datamodule.train_set.tensors
    images = datamodule.pipeline(raw, None)
    model.train()
    losses, log, epoch = [], [], 0
    while len(losses) < steps:
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SEED + epoch))
        loss_sum, top1, top5, seen = torch.zeros(()), torch.zeros(()), torch.zeros(()), 0
        for batch in order.split(BATCH):
            if len(losses) == skip:
                started = time.perf_counter()
            logits, targets = model(images[batch]), labels[batch]
            loss = F.cross_entropy(logits, targets)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the loss is {loss.item()}")
            with torch.no_grad():
                correct = logits.topk(5, 1).indices == targets[:, None]
                top1 += correct[:, 0].sum()
                top5 += correct.any(1).sum()
                loss_sum += loss * len(targets)
                seen += len(targets)
                batch_top1 = correct[:, 0].float().mean()
            optimizer.zero_grad()
            loss.backward()
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            if not torch.isfinite(torch.nn.utils.get_total_norm(grads)):
                raise FloatingPointError("a gradient is not finite")
            optimizer.step()
            losses.append(loss.item())
            if len(losses) % LOG_EVERY == 0:
                log.append((len(losses), losses[-1], batch_top1.item()))
            if len(losses) == steps:
                break
        epoch += 1
    return (time.perf_counter() - started) / (steps - skip), losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=110)
    parser.add_argument("--skip", type=int, default=10, help="warm-up steps not timed")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not 0 <= args.skip < args.steps:
        parser.error("--skip must be less than --steps")
    gc.freeze()  # as `python train.py` does after its imports (alexnet.run.command)
    ours_s, plain_s, ratios = [], [], []
    for repeat in range(args.repeats):  # alternately, each first in turn: drifts hit both
        if repeat % 2:
            seconds, plain_losses = plain_run(args.steps, args.skip)
            ours_s.append(lightning_run(args.steps, args.skip))
        else:
            ours_s.append(lightning_run(args.steps, args.skip))
            seconds, plain_losses = plain_run(args.steps, args.skip)
        plain_s.append(seconds)
        ratios.append(ours_s[-1] / plain_s[-1])
    ours = lightning_losses(args.steps)
    diff = max(abs(a - b) for a, b in zip(ours, plain_losses, strict=True))
    ours_m, plain_m = statistics.median(ours_s), statistics.median(plain_s)
    timed = args.steps - args.skip
    print(
        f"alexnet_mini on digits, batch {BATCH}, SGD, CPU, {torch.get_num_threads()} threads: "
        f"steps {args.skip + 1}-{args.steps} timed ({timed}), medians of {args.repeats} "
        "alternating runs\n"
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
        f"losses: {len(ours)} steps compared, first {ours[0]:.6f} vs {plain_losses[0]:.6f}, "
        f"largest difference {diff:.2e}"
    )


if __name__ == "__main__":
    main()
