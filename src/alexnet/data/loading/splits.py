"""Deterministic dataset splits: the same on every machine and every DDP rank."""

from collections import Counter
from collections.abc import Sequence

import numpy as np

from alexnet.console import warn
from alexnet.errors import UserError


def stratified_holdout(
    labels: Sequence[int], fraction: float, seed: int, option: str = "the split fraction"
) -> tuple[list[int], list[int]]:
    """Positions of (kept, held out): ``fraction`` (the value of ``option``) of each
    class held out; of small data, as near that as every class keeping an image allows."""
    positions = list(range(len(labels)))
    if fraction <= 0:
        return positions, []
    if not fraction < 1:
        raise UserError(f"{option}={fraction} must be in [0, 1)")
    # scikit-learn (with SciPy, about 0.9 s) is imported by the runs that split
    from sklearn.model_selection import train_test_split

    try:
        kept, held = train_test_split(
            positions, test_size=fraction, stratify=list(labels), random_state=seed
        )
    except ValueError:
        # scikit-learn refuses when the held-out part has fewer images than there are
        # classes (small data): then each class gives round(fraction · its count), or,
        # when that is none, one image each of as many classes as the fraction asks.
        kept, held = per_class_holdout(labels, fraction, seed)
        if not held:
            kept, held = spread_holdout(labels, fraction, seed)
        if not held:
            raise UserError(
                f"{option} holds out none of these {len(labels)} images: no class has two, "
                "so none can be held out and still train; give the data val/ and test/ "
                "folders of their own"
            ) from None
    return sorted(kept), sorted(held)


def spread_holdout(
    labels: Sequence[int], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Positions of (kept, held out): one random image of each of round(fraction · n)
    (at least one) random classes that have two images or more."""
    rng = np.random.default_rng(seed)
    classes = [c for c, n in sorted(Counter(labels).items()) if n >= 2]
    chosen = [classes[i] for i in rng.permutation(len(classes))][
        : max(round(fraction * len(labels)), 1)
    ]
    held = [int(rng.choice([i for i, y in enumerate(labels) if y == c])) for c in chosen]
    return sorted(set(range(len(labels))) - set(held)), sorted(held)


def per_class_holdout(
    labels: Sequence[int], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Positions of (kept, held out): round(fraction · n) random images of each class of
    n images held out, at least one image of each class kept."""
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == label]
        members = [members[i] for i in rng.permutation(len(members))]
        count = min(round(fraction * len(members)), len(members) - 1)
        held += members[:count]
        kept += members[count:]
    return sorted(kept), sorted(held)


def stratified_split(
    labels: Sequence[int],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    names: Sequence[str] | None = None,
) -> tuple[list[int], list[int], list[int]]:
    """Positions of a stratified (train, val, test) split, the same for a given seed.
    A class of one image goes to training, with a warning that names it
    (``names[label]``). With ``test_fraction`` 0 the validation images are also the
    test split."""
    if val_fraction + test_fraction >= 1:
        raise UserError(
            f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:g} "
            "leaves no image to train on: give fractions that add up to less than 1"
        )
    holdouts = (val_fraction > 0) + (test_fraction > 0)
    counts = Counter(labels)
    tiny = sorted(label for label, n in counts.items() if holdouts and n < 2)
    if tiny:
        shown = [str(names[t]) if names else str(t) for t in tiny]
        warn(
            f"{len(tiny)} classes have too few images to hold any out ({', '.join(shown[:10])}"
            f"{' …' if len(tiny) > 10 else ''}): all their images train, none validate or test"
        )
    splittable = [i for i, y in enumerate(labels) if y not in tiny]
    if holdouts and not splittable:
        raise UserError(
            "every class has one image: none can be held out and still train; give each "
            "class two images or more, or the data val/ and test/ folders of their own"
        )
    rest, test = stratified_holdout(
        [labels[i] for i in splittable], test_fraction, seed, "data.test_fraction"
    )
    kept, val = stratified_holdout(
        [labels[splittable[i]] for i in rest], val_fraction / (1 - test_fraction), seed,
        "data.val_fraction",
    )  # fmt: skip
    train = [splittable[rest[i]] for i in kept] + [i for i, y in enumerate(labels) if y in tiny]
    val = [splittable[rest[i]] for i in val]
    return sorted(train), val, [splittable[i] for i in test] if test_fraction > 0 else val


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
