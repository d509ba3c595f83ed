"""The table a run prints at the end."""

from pathlib import Path

from alexnet.console import RUN_LOG, inform, show_table

SHOWN = ("acc", "acc_top5", "loss")


COLUMNS = ("split", "top-1 acc", "top-5 acc", "top-1 err", "top-5 err", "loss")


def result_rows(metrics: dict[str, float]) -> list[list[str]]:
    """Per split: top-1/top-5 accuracy and error (1 − acc, as the paper reports), loss.
    ``train`` is the training epoch's (train mode, augmented), ``train_eval`` a fixed
    training subset tested in eval mode (``data.train_eval_size``)."""
    rows = []
    for split in ("train", "train_eval", "val", "test"):
        acc, top5, loss = (metrics.get(f"{split}/{name}") for name in SHOWN)
        loss = metrics.get(f"{split}/loss_epoch", loss)
        if acc is None and loss is None:
            continue
        cells = [acc, top5, None if acc is None else 1 - acc, None if top5 is None else 1 - top5]
        rows.append(
            [
                split,
                *(f"{v:.2%}" if v is not None else "-" for v in cells),
                f"{loss:.4f}" if loss is not None else "-",
            ]
        )
    return rows


def print_results(metrics: dict[str, float], run_dir: Path, best_ckpt: str, seconds: float) -> None:
    """The results table, then the best val top-1, the best checkpoint and the run
    directory; the log file also gets every metric."""
    show_table("Results", list(COLUMNS), result_rows(metrics))
    RUN_LOG.info(
        "results: %s; best checkpoint: %s; %.0f s",
        {k: round(v, 6) for k, v in sorted(metrics.items())},
        best_ckpt or "-",
        seconds,
    )
    if "val/acc_best" in metrics:
        inform(f"best val top-1: {metrics['val/acc_best']:.2%}")
    if "lrn/acting" in metrics:
        inform(
            f"LRN acting: {metrics['lrn/acting']:.1%} of positions (divisor more than 5% "
            "from k^β; near 0: the LRN only scales by a constant)"
        )
    if best_ckpt:
        inform(f"best checkpoint: {best_ckpt}")
    inform(f"run directory: {run_dir}   ({seconds:.0f} s)")
