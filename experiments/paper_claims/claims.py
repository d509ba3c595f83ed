"""The paper's claims as experiments: for each, its arms (the override lists that make
them), the one factor they may differ in, the metric, the preconditions a verdict needs,
and what differs from the paper's own setting.

The first arm is the paper's choice, the second the alternative it was compared with
(the verdict's pair); further arms are measured and shown. Each claim's shared settings
are in configs/experiment/claim_<name>.yaml; the modes below add the data.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Arm:
    """One arm: its folder name, its label, and the overrides that make it."""

    name: str
    label: str
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and how it is measured.

    Args:
        title: the claim, briefly, with its section.
        arms: the paper's arm, the alternative, then any others.
        factor: the config keys the arms may differ in (checked on the composed configs
            before anything runs).
        metric: what the verdict compares (see aggregate.METRICS).
        better: ``lower`` or ``higher``: which way the paper says the first arm goes.
        paper: the paper's figure, as text.
        differs: what differs from the paper's setting.
        preconditions: checks a verdict needs (see aggregate.PRECONDITIONS); 5 seeds
            per arm is always one.
        log_scale: compare on a log scale (effects are ratios: times, counts).
        also: further metrics, measured and shown without a verdict.
        paired: the arms evaluate the same checkpoints (matched by seed).
        tune_lr: each arm trains at its own best learning rate of this grid, picked on a
            seed of its own (0): by the mean training error of the whole run for a speed
            claim, else by the validation error at the endpoint; then ``optimizer.lr`` is
            part of the factor.
        full, gpu: the claim's own overrides in those modes (training set size, epochs).
        paper_effect: the paper's effect in the metric's units (a ratio on a log scale),
            where the paper gives a number: beside the smallest effect the study can
            detect, it says whether the comparison could have found it.
        fractions: a speed claim's thresholds, as fractions of the way from chance to
            the worse arm's converged training error; the verdict at the middle one.
        control: what separates the claimed mechanism from a side effect.
        converges: its runs train to the endpoint (claims_converged), not for a fixed
            number of epochs.
        not_tested: the budget the protocol's comparison would need, for a claim the full
            study does not run (quick mode still runs its arms).
        setting: (aspect, the paper's, ours) rows of the faithfulness table.
    """

    title: str
    arms: tuple[Arm, ...]
    factor: frozenset[str]
    metric: str
    paper: str
    differs: str
    better: str = "lower"
    preconditions: tuple[str, ...] = ("left_chance",)
    log_scale: bool = False
    also: tuple[str, ...] = ()
    paired: bool = False
    tune_lr: tuple[float, ...] = ()
    full: tuple[str, ...] = ()
    gpu: tuple[str, ...] = ()
    threshold: float | None = None  # of the steps_to_train_error metric
    fractions: tuple[float, ...] = ()  # thresholds set from the data (aggregate.thresholds)
    paper_effect: float | None = None  # the paper's own effect in the metric's units
    control: str = ""
    converges: bool = True
    not_tested: str = ""
    setting: tuple[tuple[str, str, str], ...] = ()


def _arm(name: str, label: str, *overrides: str) -> Arm:
    return Arm(name, label, overrides)


SMALL_NET = "the paper's small CIFAR net (cuda-convnet's layers-18pct layout and initialisation)"
MINI = "alexnet_mini (AlexNet's 5-conv/3-FC layout at 32 px, widths halved)"

GRID = (0.001, 0.003, 0.01, 0.03, 0.1)  # PROTOCOL.md: the learning rates each arm picks from
CONVERGED = Path(__file__).parents[2] / "configs" / "experiment" / "claims_converged.yaml"
_CONVERGED_CONFIG = yaml.safe_load(CONVERGED.read_text())
CAP = _CONVERGED_CONFIG["trainer"]["max_epochs"]  # the endpoint's cap, in validations
PATIENCE = _CONVERGED_CONFIG["scheduler"]["patience"]  # validations without improvement per drop
PER_VALIDATION = 10_000  # training images between validations, whatever the training set
ENDPOINT = (
    f"the rate ÷10 after {PATIENCE} validations (one per {PER_VALIDATION:,} training images) "
    f"without improvement, stop at the third drop (cap {CAP} validations)"
)


def validated_per_10000(train_images: int) -> tuple[str, ...]:
    """The overrides that validate a claim trained on ``train_images`` once per
    PER_VALIDATION training images, so that the endpoint's patience and cap count the
    same training whatever its training set (on 1,000 images, two epochs are 32 steps:
    the rate was lowered while the net had not yet left chance)."""
    every = PER_VALIDATION // train_images
    return (f"trainer.check_val_every_n_epoch={every}", f"trainer.max_epochs={CAP * every}")


PAPER_ENDPOINT = "the paper's schedule to convergence"


def _setting(network: str, data: str, size: str, rate: str, measured: str, paper: tuple) -> tuple:
    """The faithfulness rows (aspect, the paper's, ours)."""
    ours = (network, data, size, ENDPOINT, rate, measured)
    aspects = ("network", "data", "input size", "endpoint", "learning rate", "measured")
    return tuple(zip(aspects, paper, ours, strict=True))


def _paper_alexnet(measured: str, size: str = "224 px", rate: str = "one for both") -> tuple:
    """The paper's side of the faithfulness rows for a claim it made on AlexNet."""
    return ("AlexNet", "ImageNet", size, PAPER_ENDPOINT, rate, measured)


OWN_RATE = "each arm its own best of {0.001 … 0.1} (seed 0)"
FASHION = "Fashion-MNIST, 10,000 training images (a subset per seed)"
SMALL_NET_PAPER = "the four-layer CIFAR-10 net (layers-18pct)"

CLAIMS: dict[str, Claim] = {
    "relu_tanh": Claim(
        "ReLU trains faster than tanh (3.1, Figure 1)",
        (
            _arm("relu", "ReLU", "model.activation=relu"),
            _arm("tanh", "tanh", "model.activation=tanh"),
        ),
        frozenset({"model.activation", "optimizer.lr"}),
        "steps_to_train_error",
        "25% training error on CIFAR-10 six times sooner (×6)",
        f"{SMALL_NET} on the paper's input scale (conv1's "
        "pre-activations have std ≈ 0.04: tanh does not start saturated), no normalisation "
        "or regularisation of any kind as in Figure 1; each nonlinearity at its own best "
        "learning rate (the paper tuned each), picked on seed 0 by the mean training error "
        "of its whole run; steps to three training errors set from the data: a quarter, "
        "half and three quarters of the way from chance (90%) to the worse arm's converged "
        "training error (trailing mean over 20 steps); the verdict at the middle one",
        preconditions=("reaches_threshold", "converged"),
        log_scale=True,
        tune_lr=GRID,
        fractions=(0.25, 0.5, 0.75),
        paper_effect=1 / 6,
        full=("data.train_size=10000",),
        gpu=("trainer.max_epochs=60",),
        setting=_setting(
            "small net, no normalisation, no decay",
            FASHION,
            "32 px (28 padded)",
            OWN_RATE,
            "steps to errors set from the data",
            (
                SMALL_NET_PAPER + ", no normalisation",
                "CIFAR-10",
                "32 px",
                "until 25% training error",
                "each the fastest",
                "epochs to 25% training error",
            ),
        ),
    ),
    "lrn": Claim(
        "Local response normalisation lowers the error (3.3)",
        (
            _arm("lrn", "LRN (across channels)", "model.norm=lrn"),
            _arm("none", "none", "model.norm=none"),
            _arm(
                "scaling",
                "LRN with α = 0 (its scaling by k^-β alone)",
                "model.norm=lrn",
                "model.lrn_alpha=0.0",
            ),
        ),
        frozenset(
            {"model.norm", "model.lrn_size", "model.lrn_alpha", "model.lrn_k", "optimizer.lr"}
        ),
        "test_error",
        "CIFAR-10 four-layer net: 13% → 11% test error; ImageNet −1.4 / −1.2 points",
        f"{SMALL_NET} on the paper's input scale, each arm at its own learning rate (the "
        "LRN scales activations by about 0.59 per layer: a smaller effective step), trained "
        "to the paper's endpoint (PROTOCOL.md); the control with α = 0 keeps the LRN's "
        "scaling and drops its normalisation",
        preconditions=("left_chance", "lrn_acts", "converged"),
        also=("lrn_acting", "epochs"),
        control="LRN with α = 0 (the scaling alone)",
        paper_effect=-0.02,
        tune_lr=GRID,
        full=("data.train_size=10000",),
        gpu=("trainer.max_epochs=60",),
        setting=_setting(
            "small net (max, avg, avg pools)",
            FASHION,
            "32 px (28 padded)",
            OWN_RATE,
            "test error",
            (SMALL_NET_PAPER, "CIFAR-10", "32 px", PAPER_ENDPOINT, "not stated", "test error"),
        ),
    ),
    "overlapping_pool": Claim(
        "Overlapping pooling lowers the error (3.4)",
        (
            _arm("overlapping", "max 3/2 (overlapping)", "model.pools=max", "model.pool_kernel=3"),
            _arm("plain", "max 2/2", "model.pools=max", "model.pool_kernel=2"),
            _arm("avg_overlapping", "average 3/2", "model.pools=avg", "model.pool_kernel=3"),
            _arm("avg_plain", "average 2/2", "model.pools=avg", "model.pool_kernel=2"),
        ),
        frozenset({"model.pools", "model.pool_kernel", "optimizer.lr"}),
        "test_error",
        "−0.4 / −0.3 points top-1 / top-5 (ImageNet)",
        f"{SMALL_NET} with max pools throughout (the claim is about max pooling) on the "
        "paper's input scale, pools padded to equal output sizes, each arm at its own "
        "learning rate, trained to the paper's endpoint; average pools 3/2 and 2/2 shown "
        "beside (not counting the padding); the paper's second half (it overfits less) is "
        "read off the training and test errors",
        preconditions=("left_chance", "converged"),
        also=("train_error", "overfitting", "epochs"),
        control="average pools, 3/2 against 2/2",
        paper_effect=-0.004,
        tune_lr=GRID,
        not_tested="4 arms (max and average, 3/2 and 2/2) × 5 seeds and a 4 × 5 rate grid "
        "to the endpoint: 40 runs of about 10 minutes, about 3.3 hours on 2 cores beyond "
        "the 6 hours the other claims take (PROTOCOL.md)",
        full=("data.train_size=10000",),
        gpu=("trainer.max_epochs=60",),
        setting=_setting(
            "small net, three max pools, LRN",
            FASHION,
            "32 px (28 padded)",
            OWN_RATE,
            "test error, and training error",
            _paper_alexnet("top-1 / top-5 test error"),
        ),
    ),
    "two_columns": Claim(
        "Two columns beat one with half the kernels (3.2, 3.5)",
        (
            _arm("split", "two columns (groups=2)", "model.groups=2", "model.width=1.0"),
            _arm(
                "half",
                "one column, half the kernels but conv5",
                "model.groups=1",
                "model.width=[0.5,0.5,0.5,0.5,1.0]",
            ),
        ),
        frozenset({"model.groups", "model.width"}),
        "test_error",
        "−1.7 / −1.2 points top-1 / top-5 against the one-GPU net (ImageNet)",
        f"{MINI} with BatchNorm in quick mode only; the protocol's comparison is on the "
        "paper's own net and initialisation (AlexNet's layers), which does not fit the "
        "budget",
        paper_effect=-0.017,
        converges=False,
        not_tested="AlexNet's layers at 67 px to the endpoint, 2 arms × 5 seeds and a rate "
        "grid: about 8 hours on 2 cores (PROTOCOL.md)",
        control="the paper's own net and initialisation",
        gpu=("trainer.max_epochs=30",),
    ),
    "dropout": Claim(
        "Dropout reduces overfitting (4.2)",
        (
            _arm("dropout", "dropout 0.5", "model.dropout=0.5"),
            _arm("none", "no dropout", "model.dropout=0.0"),
        ),
        frozenset({"model.dropout"}),
        "overfitting",
        "without dropout, substantial overfitting",
        f"{MINI} with BatchNorm, trained on 1,000 images so that it can overfit, each arm "
        "to the paper's endpoint; training and test error at that point",
        preconditions=("left_chance", "overfits", "converged"),
        also=("train_error", "test_error", "epochs"),
        control="training and test error, each arm at its converged point",
        full=(
            "data.train_size=1000",
            "data.val_size=500",
            "data.train_eval_size=1000",
            *validated_per_10000(1000),
        ),
        gpu=("trainer.max_epochs=60",),
        setting=_setting(
            "alexnet_mini, BatchNorm",
            "Fashion-MNIST, 1,000 training images",
            "32 px",
            "one shared (the claim's config)",
            "test − training error",
            _paper_alexnet("overfitting, in words"),
        ),
    ),
    "bias_init": Claim(
        "Biases of 1 speed up early learning (5)",
        (
            _arm("ones", "biases 1", "model.paper_bias=1.0"),
            _arm("zeros", "biases 0", "model.paper_bias=0.0"),
        ),
        frozenset({"model.paper_bias"}),
        "early_train_error",
        "“accelerates the early stages of learning by providing the ReLUs with positive inputs”",
        "AlexNet's layers (kernels and channels, so the initialisation's per-layer gains are "
        "the paper's) with its LRN, two columns and N(0, 0.01) weights, on the paper's input "
        "scale, at 67 px instead of 227 (to fit a CPU; there conv5's pooled map is 1×1, "
        "which the adaptive average pool copies to 6×6) and on grey 28-px images; the "
        "training error averaged over the first epoch's steps; quick mode only",
        preconditions=("some_arm_learns",),
        converges=False,
        not_tested="AlexNet's layers at 67 px, each arm at its own learning rate and to the "
        "endpoint, 2 arms × 5 seeds and a rate grid: about 10 hours on 2 cores (PROTOCOL.md)",
        gpu=("model.input_size=227", "trainer.max_epochs=5"),
    ),
    "augmentation": Claim(
        "Translations and reflections reduce overfitting (4.1)",
        (
            _arm("augmented", "crops + flips", "data.augment=true"),
            _arm("none", "none", "data.augment=false"),
        ),
        frozenset({"data.augment"}),
        "test_error",
        "without it, substantial overfitting",
        f"{SMALL_NET} on the paper's input scale, trained on 1,000 images so that it can "
        "overfit, each arm to the paper's endpoint; crops from the image extended by its own "
        "edge pixels (no frame); no PCA colour noise (grey images)",
        preconditions=("left_chance", "overfits", "converged"),
        also=("train_error", "overfitting", "epochs"),
        control="training and test error, each arm at its converged point",
        full=(
            "data.train_size=1000",
            "data.val_size=500",
            "data.train_eval_size=1000",
            *validated_per_10000(1000),
        ),
        gpu=("trainer.max_epochs=60",),
        setting=_setting(
            "small net",
            "Fashion-MNIST, 1,000 training images",
            "32 px (28 padded)",
            "one shared (the claim's config)",
            "test error, and training error",
            _paper_alexnet("overfitting, in words", size="224 px crops of 256"),
        ),
    ),
    "ten_crop": Claim(
        "Ten test patches beat the centre patch (4.1)",
        (
            _arm("ten_crop", "ten patches", "tta=ten_crop"),
            _arm("center", "centre patch", "tta=center"),
        ),
        frozenset({"tta"}),
        "test_error",
        "used for every test figure; no separate number in the paper",
        f"{MINI} trained to the paper's endpoint on Fashion-MNIST as PNG folders (5,000 "
        "images) with the paper's pipeline (shorter side 37, random 32-px crops, flips); "
        "each checkpoint evaluated both ways",
        paired=True,
        preconditions=("left_chance",),
        not_tested="5 checkpoints trained to the endpoint on 5,000 PNG images, each evaluated "
        "both ways: about an hour on 2 cores, which the study, over its 6 hours already, "
        "left to the claims the paper gives a number for (PROTOCOL.md, section 7)",
        full=("data.max_per_class=500", *validated_per_10000(5000)),
        setting=_setting(
            "alexnet_mini",
            "Fashion-MNIST PNG folders, 5,000 images",
            "32-px crops of 37",
            "one (the claim's config)",
            "test error of the same checkpoints",
            _paper_alexnet("every test figure", size="224-px crops of 256", rate="—"),
        ),
    ),
    "weight_decay": Claim(
        "Weight decay lowers the training error (5)",
        (
            _arm("decay", "decay 5e-4", "optimizer.weight_decay=0.0005"),
            _arm("none", "no decay", "optimizer.weight_decay=0.0"),
        ),
        frozenset({"optimizer.weight_decay"}),
        "train_error",
        "“not merely a regularizer: it reduces the model's training error”",
        f"{SMALL_NET} on the paper's input scale with the paper's decay, 5e-4, each arm "
        "to the paper's endpoint (PyTorch's SGD decays the biases too; the paper's update "
        "rule names the weights)",
        preconditions=("left_chance", "decay_shrinks", "converged"),
        also=("weight_norm", "test_error", "epochs"),
        control="training and test error, each arm at its converged point",
        full=("data.train_size=10000",),
        gpu=("trainer.max_epochs=60",),
        setting=_setting(
            "small net",
            FASHION,
            "32 px (28 padded)",
            "one shared (the claim's config)",
            "training error (eval mode) and the weights' norm",
            _paper_alexnet("training error, in words"),
        ),
    ),
}

#: Data and schedule of each mode; the claims add their own ``full``/``gpu`` overrides.
MODES: dict[str, dict] = {
    "full": {
        "data": ("data=fashion_mnist", "data.val_size=2000", "data.on_device=true"),
        "seeds": 5,
        "folder": "fashion",
    },
    "quick": {
        "data": ("data=digits", "data.on_device=true", "trainer.max_epochs=2"),
        "seeds": 2,
        "folder": "digits",
    },
    "gpu": {
        "data": ("data=cifar10", "data.on_device=true", "trainer=gpu"),
        "seeds": 5,
        "folder": None,
    },
}
SEEDS_NEEDED = 5
