"""Deterministic dataset splits (the same on every machine and DDP rank)."""

from sklearn.model_selection import train_test_split


def stratified_split(
    labels: list[int], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[int], list[int], list[int]]:
    """Indices of a stratified train/val/test split, the same for a given seed."""
    indices = list(range(len(labels)))
    rest, test = train_test_split(
        indices, test_size=test_fraction, stratify=labels, random_state=seed
    )
    val_share = val_fraction / (1.0 - test_fraction)
    train, val = train_test_split(
        rest, test_size=val_share, stratify=[labels[i] for i in rest], random_state=seed
    )
    return sorted(train), sorted(val), sorted(test)
