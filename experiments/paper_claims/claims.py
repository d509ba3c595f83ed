"""The paper's claims as experiments: for each, its arms (the override lists that make
them), the one factor they may differ in, the metric, the preconditions a verdict needs,
and what differs from the paper's own setting.

The first arm is the paper's choice, the second the alternative it was compared with
(the verdict's pair); further arms are measured and shown. Each claim's shared settings
are in configs/experiment/claim_<name>.yaml; the modes below add the data.
"""

from dataclasses import dataclass


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
            seed of its own (0): by steps to the threshold for a speed claim, else by the
            validation error at the end; then ``optimizer.lr`` is part of the factor.
        full, gpu: the claim's own overrides in those modes (training set size, epochs).
        paper_effect: the paper's effect in the metric's units (a ratio on a log scale),
            where the paper gives a number: beside the smallest effect the study can
            detect, it says whether the comparison could have found it.
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
    paper_effect: float | None = None  # the paper's own effect in the metric's units


def _arm(name: str, label: str, *overrides: str) -> Arm:
    return Arm(name, label, overrides)


SMALL_NET = "the paper's small CIFAR net (cuda-convnet's layers-18pct layout and initialisation)"
MINI = "alexnet_mini (AlexNet's 5-conv/3-FC layout at 32 px, widths halved)"

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
        "the paper's small CIFAR net's layout (cuda-convnet's layers-18pct) with PyTorch's "
        "default initialisation (`model.init=torch`, not layers-18pct's), no normalisation "
        "or regularisation of any kind as in Figure 1, on standardised inputs (on the 0–255 "
        "scale PyTorch's initialisation saturates tanh: conv1's pre-activations have std "
        "≈ 57; the paper's initialisation would not, std ≈ 0.04); each nonlinearity at its "
        "best learning rate of {0.01, 0.03, 0.1} (the paper tuned each), picked on seed 0; "
        "training error per step, a trailing mean over 20 steps. A linear softmax classifier "
        "reaches 25% training error on Fashion-MNIST in about 31 steps: the threshold is met "
        "before either nonlinearity matters",
        preconditions=("reaches_threshold",),
        log_scale=True,
        tune_lr=(0.01, 0.03, 0.1),
        threshold=0.25,
        paper_effect=1 / 6,
        full=("data.train_size=10000", "trainer.max_epochs=3"),
        gpu=("trainer.max_epochs=10",),
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
        paper_effect=-0.02,
        tune_lr=(0.001, 0.003, 0.01, 0.03, 0.1),
        full=("data.train_size=10000",),
        gpu=("trainer.max_epochs=30",),
    ),
    "overlapping_pool": Claim(
        "Overlapping pooling lowers the error (3.4)",
        (
            _arm("overlapping", "3/2 (overlapping)", "model.pool_kernel=3"),
            _arm("plain", "2/2", "model.pool_kernel=2"),
        ),
        frozenset({"model.pool_kernel"}),
        "test_error",
        "−0.4 / −0.3 points top-1 / top-5 (ImageNet)",
        f"{SMALL_NET} on the paper's input scale, pools padded to equal output sizes, "
        "average pools not counting the padding. Two of its three pools are average pools "
        "(the paper's claim is about max pooling); the 3/2 arm is the same configuration as "
        "the LRN claim's LRN arm; the paper's second half (it overfits less) is not measured",
        paper_effect=-0.004,
        full=("data.train_size=10000", "trainer.max_epochs=4"),
        gpu=("trainer.max_epochs=30",),
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
        f"{MINI} with BatchNorm; the one-column net keeps conv5 and the FC layers at full "
        "size, as the paper's one-GPU net did",
        paper_effect=-0.017,
        full=("data.train_size=5000", "data.val_size=1000", "trainer.max_epochs=2"),
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
        f"{MINI} with BatchNorm, trained on 1,000 images so that it can overfit",
        preconditions=("left_chance", "overfits"),
        also=("test_error",),
        full=(
            "data.train_size=1000",
            "data.val_size=500",
            "data.train_eval_size=1000",
            "trainer.max_epochs=12",
        ),
        gpu=("trainer.max_epochs=60",),
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
        "training error averaged over the first epoch's steps (8,000 images)",
        preconditions=("some_arm_learns",),
        full=("data.train_size=8000", "data.val_size=500", "trainer.max_epochs=1"),
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
        "overfit; crops from the image extended by its own edge pixels (no frame); no PCA "
        "colour noise (grey images)",
        preconditions=("left_chance", "overfits"),
        also=("overfitting",),
        full=(
            "data.train_size=1000",
            "data.val_size=500",
            "data.train_eval_size=1000",
            "trainer.max_epochs=20",
        ),
        gpu=("trainer.max_epochs=60",),
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
        f"{MINI} trained on Fashion-MNIST as PNG folders (5,000 images) with the paper's "
        "pipeline (shorter side 37, random 32-px crops, flips); each checkpoint evaluated "
        "both ways",
        paired=True,
        full=("data.max_per_class=500", "trainer.max_epochs=3"),
    ),
    "weight_decay": Claim(
        "Weight decay lowers the training error (5)",
        (
            _arm("decay", "decay 0.05", "optimizer.weight_decay=0.05"),
            _arm("none", "no decay", "optimizer.weight_decay=0.0"),
        ),
        frozenset({"optimizer.weight_decay"}),
        "train_error",
        "“not merely a regularizer: it reduces the model's training error”",
        f"{SMALL_NET} on the paper's input scale; decay 0.05, 100× the paper's 5e-4, so "
        "that this short run (313 steps) shrinks the weights measurably, applied to the "
        "biases too; even so the "
        "paper's decay summed over its 90 epochs (Σ lr·wd ≈ 1.6) was some 30× this run's "
        "(0.047). At 5e-3 the weights ended 3% smaller and the precondition failed",
        preconditions=("left_chance", "decay_shrinks"),
        also=("weight_norm", "test_error"),
        full=("data.train_size=10000", "trainer.max_epochs=4"),
        gpu=("trainer.max_epochs=30",),
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
