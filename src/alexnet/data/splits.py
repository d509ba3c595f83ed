"""Deterministic dataset splits: the same on every machine and every DDP rank."""

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from alexnet.errors import UserError


def stratified_holdout(
    labels: Sequence[int], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Positions of (kept, held out): ``fraction`` of each class held out."""
    positions = list(range(len(labels)))
    if fraction <= 0:
        return positions, []
    if not fraction < 1:
        raise UserError(f"a split fraction must be in [0, 1), got {fraction}")
    try:
        kept, held = train_test_split(
            positions, test_size=fraction, stratify=list(labels), random_state=seed
        )
    except ValueError as err:  # too few images in some class to stratify
        raise UserError(
            f"cannot split {len(labels)} images {fraction:.0%} by class: {err}"
        ) from None
    return sorted(kept), sorted(held)


def stratified_split(
    labels: Sequence[int], val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[int], list[int], list[int]]:
    """Positions of a stratified (train, val, test) split, the same for a given seed."""
    rest, test = stratified_holdout(labels, test_fraction, seed)
    kept, val = stratified_holdout(
        [labels[i] for i in rest], val_fraction / (1 - test_fraction), seed
    )
    return [rest[i] for i in kept], [rest[i] for i in val], test


def per_class_split(
    labels: Sequence[int], train_per_class: int, max_test_per_class: int | None, seed: int
) -> tuple[list[int], list[int]]:
    """Positions of (train, test): ``train_per_class`` random images of each class for
    training, the rest (at most ``max_test_per_class``) for testing — the usual
    Caltech-101 protocol (30 / at most 50)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == label]
        if len(members) <= train_per_class:
            raise UserError(
                f"class {label} has {len(members)} images, not more than "
                f"train_per_class={train_per_class}: lower data.train_per_class"
            )
        members = [members[i] for i in rng.permutation(len(members))]
        train += members[:train_per_class]
        test += members[train_per_class:][:max_test_per_class]
    return sorted(train), sorted(test)
