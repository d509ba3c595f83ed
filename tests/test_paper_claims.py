"""The paper-claims study's machinery: its network, the Fashion-MNIST reader on files in
the real IDX format, and the aggregation on run directories written by hand."""

import csv
import gzip
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest
import torch
from torch import nn

from alexnet.data import FashionMNISTDataModule
from alexnet.data.datasets.fashion_mnist import read_idx
from alexnet.errors import UserError
from alexnet.models import LocalResponseNorm, create_model
from alexnet.tasks.report import read_run
from conftest import ROOT, marked_processes, run_script

sys.path.insert(0, str(ROOT / "experiments" / "paper_claims"))
from aggregate import (  # noqa: E402
    SUMMARY_END,
    SUMMARY_START,
    aggregate,
    compare,
    converged,
    correct_for_many_tests,
    detectable_effect,
    holm,
    rate_drops,
    read_arms,
    sittings_lines,
    tables,
    weight_norm,
)
from aggregate import (
    main as aggregate_main,
)
from claims import CLAIMS, MODES, Arm, Claim  # noqa: E402
from factors import check_factor  # noqa: E402
from run_claims import (  # noqa: E402
    Sitting,
    Study,
    arm_overrides,
    checkpoints_tested,
    keep_tested_checkpoint,
    rate_beyond,
    run_all,
)


def test_the_small_cifar_network_is_cuda_convnets_layout():
    net = create_model("cifar_convnet", num_classes=10)
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (32, (5, 5), (2, 2)),
        (32, (5, 5), (2, 2)),
        (64, (5, 5), (2, 2)),
    ]
    pools = [type(m) for m in net.features if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert pools == [nn.MaxPool2d, nn.AvgPool2d, nn.AvgPool2d]
    assert sum(isinstance(m, LocalResponseNorm) for m in net.features) == 2
    assert net.classifier.in_features == 64 * 4 * 4


@pytest.mark.parametrize("pools", ["max", "avg"])
@pytest.mark.parametrize("kernel", [2, 3])
def test_overlapping_and_plain_pooling_give_the_same_sizes(kernel, pools):
    """Every pool of the pooling claim's nets (max, and the average control) is 3/2 or
    2/2, and all give the same sizes."""
    net = create_model("cifar_convnet", num_classes=10, pool_kernel=kernel, pools=pools)
    assert net.features(torch.randn(2, 3, 32, 32)).shape == (2, 64, 4, 4)
    kind = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pools]
    found = [m for m in net.features if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d))]
    assert [(type(m), m.kernel_size) for m in found] == [(kind, kernel)] * 3


@pytest.mark.parametrize("name", ["alexnet", "alexnet_mini"])
def test_the_papers_biases_of_one_sit_on_conv2_4_5_and_fc6_7(name):
    """Section 5: the biases of 1 go on the second, fourth and fifth convolutional
    layers and the hidden fully connected layers; ``paper_bias=0`` is the same net with
    every bias 0 (the claim's other arm)."""
    torch.manual_seed(0)
    kwargs = dict(num_classes=10, norm="lrn", init="paper", groups=2)
    ones, zeros = create_model(name, **kwargs), create_model(name, **kwargs, paper_bias=0.0)
    biases = [m.bias.unique().tolist() for m in layers_of(ones)]
    assert biases == [[0.0], [1.0], [0.0], [1.0], [1.0], [1.0], [1.0], [0.0]]
    assert all(m.bias.abs().max() == 0 for m in layers_of(zeros))
    assert layers_of(ones)[0].weight.std().item() == pytest.approx(0.01, rel=0.1)


def layers_of(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def test_the_small_cifar_networks_paper_init_is_layers_18pct():
    torch.manual_seed(0)
    net = create_model("cifar_convnet", num_classes=10, init="paper")
    assert all(m.bias.abs().max() == 0 for m in layers_of(net))
    stds = [round(m.weight.std().item(), 4) for m in layers_of(net)]
    assert stds[0] == pytest.approx(1e-4, rel=0.1) and stds[1:] == pytest.approx(
        [0.01] * 3, rel=0.1
    )
    tanh = create_model("cifar_convnet", num_classes=10, activation="tanh", norm="none")
    assert not any(isinstance(m, (nn.ReLU, LocalResponseNorm)) for m in tanh.modules())


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    """LeCun's IDX format: two zero bytes, the type (0x08: unsigned byte), the number of
    dimensions, each dimension as a big-endian int32, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


def write_fashion_mnist(root, train: int = 60, test: int = 20) -> None:
    rng = np.random.default_rng(0)
    for prefix, n, compress in (("train", train, True), ("t10k", test, False)):
        write_idx(root / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, compress)


def test_idx_files_are_read_compressed_or_not(tmp_path):
    write_fashion_mnist(tmp_path)
    images = read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    labels = read_idx(tmp_path / "t10k-labels-idx1-ubyte")
    assert images.shape == (60, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [i % 10 for i in range(20)]
    (tmp_path / "cut").write_bytes((tmp_path / "t10k-images-idx3-ubyte").read_bytes()[:100])
    with pytest.raises(UserError, match="holds 84 values"):
        read_idx(tmp_path / "cut")


def test_fashion_mnist_splits_and_sizes(tmp_path):
    write_fashion_mnist(tmp_path)
    dm = FashionMNISTDataModule(
        root=str(tmp_path),
        download=False,
        val_size=10,
        train_size=30,
        image_size=32,
        in_channels=1,
        batch_size=8,
    )
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (30, 10, 20)
    assert dm.class_names[0] == "T-shirt/top" and dm.num_classes == 10
    assert dm.train_set[0][0].shape == (1, 28, 28)  # native; batches are resized
    assert next(iter(dm.train_dataloader()))[0].shape == (8, 1, 32, 32)
    assert dm.preprocessing()["channels"] == 1


# ---- the study's machinery, on run directories written by hand -----------------------


def write_run(
    job,
    seed: int,
    test_acc: float,
    train_eval_acc: float = 0.99,
    steps: list[float] = (),
    rates: list[float] = (),
) -> None:
    """A run directory as train.py leaves it: overrides, results.json, the CSV log (the
    per-step training accuracy ``steps``; the learning rate ``rates``, one a step, in
    rows without an epoch as Lightning's LearningRateMonitor writes them)."""
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
    metrics = {"test/acc": test_acc, "train_eval/acc": train_eval_acc}
    (job / "results.json").write_text(json.dumps({"metrics": metrics}))
    (job / "csv").mkdir()
    rows = ["epoch,lr-SGD,step,train/acc_step,val/acc"]
    rows += [f",{rate},{step},," for step, rate in enumerate(rates)]
    rows += [f"0,,{step},{acc}," for step, acc in enumerate(steps)]
    rows += [f"0,,{len(steps)},,{test_acc}"]
    (job / "csv" / "metrics.csv").write_text("\n".join(rows) + "\n")


TOY = Claim(
    "A toy claim",
    (Arm("a", "paper's", ()), Arm("b", "other", ())),
    frozenset(),
    "test_error",
    paper="nothing",
    differs="",
    preconditions=("left_chance",),
)


def write_arms(sweep, errors: dict[str, list[float]], **kwargs) -> None:
    for arm, values in errors.items():
        for seed, error in enumerate(values, start=1):
            write_run(sweep / arm / str(seed), seed, 1 - error, **kwargs)


def test_a_difference_of_two_standard_errors_with_three_seeds_is_no_verdict(tmp_path):
    """The old rule (> 2 standard errors) called this "reproduced"; Welch's t-test at its
    own degrees of freedom (about 4 here) does not: t = 2.45, p = 0.07."""
    write_arms(tmp_path, {"a": [0.10, 0.11, 0.12], "b": [0.12, 0.13, 0.14]})
    result = aggregate("toy", TOY, tmp_path, tmp_path)
    comparison = result["comparison"]
    assert comparison["df"] == pytest.approx(4.0) and comparison["p"] > 0.05
    assert comparison["effect"] == pytest.approx(-0.02)
    assert comparison["low"] < 0 < comparison["high"]  # the interval holds 0
    assert result["verdict"].startswith("not tested: seeds per arm: 3")


def test_verdicts_from_five_seeds(tmp_path):
    write_arms(
        tmp_path / "clear",
        {"a": [0.10, 0.11, 0.12, 0.10, 0.11], "b": [0.20, 0.21, 0.22, 0.20, 0.21]},
    )
    write_arms(
        tmp_path / "other",
        {"a": [0.20, 0.21, 0.22, 0.20, 0.21], "b": [0.10, 0.11, 0.12, 0.10, 0.11]},
    )
    write_arms(
        tmp_path / "same",
        {"a": [0.10, 0.12, 0.11, 0.13, 0.10], "b": [0.11, 0.10, 0.12, 0.11, 0.13]},
    )
    verdicts = {
        name: aggregate(name, TOY, tmp_path / name, tmp_path)["verdict"]
        for name in ("clear", "other", "same")
    }
    assert verdicts == {
        "clear": "reproduced",
        "other": "opposite",
        "same": "no difference detected",
    }
    assert (tmp_path / "clear.png").stat().st_size > 10_000


def test_both_arms_at_chance_is_not_tested(tmp_path):
    """A difference between two networks that learned nothing measures nothing."""
    write_arms(tmp_path, {"a": [0.89, 0.88, 0.89, 0.9, 0.89], "b": [0.9, 0.9, 0.91, 0.9, 0.9]})
    result = aggregate("toy", TOY, tmp_path, tmp_path)
    assert result["verdict"].startswith("not tested: both arms leave chance")
    assert result["comparison"]["p"] < 0.05  # a "significant" difference, not reported as one


def test_a_partial_study_reads_as_too_few_seeds(tmp_path):
    """Aggregating a study still running: an arm without runs yet is too few seeds, not
    a precondition read off no runs (a norm's mean of nothing stopped the report)."""
    claim = Claim(
        "p",
        TOY.arms,
        frozenset(),
        "test_error",
        "lower",
        "",
        preconditions=("decay_shrinks", "lrn_acts", "converged"),
    )
    write_arms(tmp_path, {"a": [0.2] * 2})
    result = aggregate("p", claim, tmp_path, tmp_path)
    assert result["verdict"] == "not tested: seeds per arm: 0 (a verdict needs 5)"


def test_the_preconditions_of_overfitting_and_early_learning(tmp_path):
    overfit = Claim(
        "o", TOY.arms, frozenset(), "test_error", "lower", "", preconditions=("overfits",)
    )
    write_arms(tmp_path / "o", {"a": [0.2] * 5, "b": [0.21] * 5}, train_eval_acc=0.81)
    assert (
        "not tested: the other arm overfits: test − training error 2.0%"
        in (aggregate("o", overfit, tmp_path / "o", tmp_path)["verdict"])
    )
    early = Claim(
        "e",
        TOY.arms,
        frozenset(),
        "early_train_error",
        "",
        "",
        preconditions=("some_arm_learns",),
    )
    stuck = [0.1] * 30
    for arm in "ab":
        for seed in range(1, 6):
            write_run(tmp_path / "e" / arm / str(seed), seed, 0.1, steps=stuck)
    result = aggregate("e", early, tmp_path / "e", tmp_path)
    assert result["verdict"].startswith("not tested: some arm learns")
    learning = [0.1 + 0.02 * i for i in range(30)]
    for seed in range(1, 6):
        shutil.rmtree(tmp_path / "e" / "b" / str(seed))
        write_run(tmp_path / "e" / "b" / str(seed), seed, 0.6, steps=learning)
    result = aggregate("e", early, tmp_path / "e", tmp_path)
    assert result["verdict"] == "opposite"  # the paper's arm stuck, the other learned
    assert result["arms"]["paper's"]["early_train_error"] == pytest.approx([0.9] * 5)


def test_ratios_are_compared_on_a_log_scale():
    claim = Claim("r", TOY.arms, frozenset(), "steps_to_train_error", "", "", log_scale=True)
    comparison = compare(claim, [100, 110, 90, 105, 95], [600, 650, 550, 620, 580])
    assert comparison["effect"] == pytest.approx(1 / 6, rel=0.05)
    assert comparison["low"] < comparison["effect"] < comparison["high"] < 1


def test_arms_that_differ_in_more_than_the_factor_are_refused():
    base = ["experiment=claim_lrn", "data=digits"]
    with pytest.raises(ValueError, match="optimizer.lr"):
        check_factor(
            frozenset({"model.norm"}),
            [[*base, "model.norm=lrn"], [*base, "model.norm=none", "optimizer.lr=0.1"]],
        )
    with pytest.raises(ValueError, match="do not differ"):
        check_factor(frozenset({"model.norm"}), [base, base])


# (ids without "gpu": a test whose keywords hold "gpu" is skipped without CUDA)
@pytest.mark.parametrize("mode", ["full", "quick", "gpu"], ids=["full", "quick", "cuda-mode"])
def test_every_claims_arms_differ_in_its_factor_alone(mode, tmp_path):
    """What run_claims.py checks before it trains anything, for every claim of each mode
    (the gpu mode's commands are composed, not run)."""
    study = Study(mode, tmp_path, jobs=2)
    for name, claim in CLAIMS.items():
        if mode == "gpu" and not claim.gpu:
            continue
        rates = dict(zip((a.name for a in claim.arms), claim.tune_lr, strict=False))
        arms = arm_overrides(study, name, claim, rates)
        config = "eval" if claim.paired else "train"
        if claim.paired:
            arms = [list(a.overrides) for a in claim.arms]
        assert set(check_factor(claim.factor, arms[:2], config)) <= claim.factor


def test_the_summary_table_says_the_verdict_and_the_interval(tmp_path):
    write_arms(
        tmp_path / "toy", {"a": [0.10, 0.11, 0.12, 0.10, 0.11], "b": [0.20, 0.21, 0.22, 0.20, 0.21]}
    )
    CLAIMS["toy"] = TOY
    try:
        sections, summary = tables({"toy": aggregate("toy", TOY, tmp_path / "toy", tmp_path)})
    finally:
        del CLAIMS["toy"]
    assert "| A toy claim | nothing | third rate drop | shared | – | test error: -10.0 [" in summary
    assert "| reproduced |" in summary
    assert "Welch's t-test" in sections and "- yes: seeds per arm: 5" in sections
    assert MODES["full"]["seeds"] >= 5


def test_the_readme_gets_the_reports_summary_table_between_its_markers(tmp_path):
    """--readme: the table between the markers is the report's, the rest as it was; a
    file without the markers is refused before the report writes anything."""
    readme = tmp_path / "README.md"
    readme.write_text(f"# Claims\n\n{SUMMARY_START}\nold rows\n{SUMMARY_END}\n\nMore.\n")
    (tmp_path / "study").mkdir()
    aggregate_main(
        [str(tmp_path / "study"), "--out", str(tmp_path / "report"), "--readme", str(readme)]
    )
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "Two columns beat one" in summary
    assert readme.read_text() == f"# Claims\n\n{SUMMARY_START}\n{summary}{SUMMARY_END}\n\nMore.\n"
    unmarked = tmp_path / "OTHER.md"
    unmarked.write_text("# no markers\n")
    with pytest.raises(SystemExit, match="needs one line"):
        aggregate_main(
            [str(tmp_path / "study"), "--out", str(tmp_path / "again"), "--readme", str(unmarked)]
        )
    assert unmarked.read_text() == "# no markers\n" and not (tmp_path / "again").exists()


def test_each_claims_row_says_its_endpoint_rates_and_control_or_why_not_tested(tmp_path):
    """A claim on the protocol: its endpoint, the rates the grid chose (and an edge), its
    control, its faithfulness table; a claim the study does not run: its budget."""
    toy = Claim(
        "A converged claim",
        TOY.arms,
        frozenset(),
        "test_error",
        paper="nothing",
        differs="",
        preconditions=("left_chance", "converged"),
        control="a control arm",
        setting=(("network", "AlexNet", "a small one"),),
        tune_lr=(0.003, 0.01, 0.03),
    )
    write_arms(tmp_path / "toy", {"a": [0.10, 0.11, 0.12, 0.10, 0.11], "b": [0.2] * 5})
    rates = {
        "grid": {"a": [0.01, 0.03], "b": [0.003, 0.01, 0.03]},
        "chosen": {"a": 0.01, "b": 0.03},
    }
    (tmp_path / "toy" / "learning_rates.json").write_text(json.dumps({**rates, "at_edge": ["a"]}))
    result = aggregate("toy", toy, tmp_path / "toy", tmp_path)
    not_run = {"not_run": True, "comparison": None, "verdict": "not tested: a day"}
    CLAIMS.update(toy=toy, later=TOY)
    try:
        sections, summary = tables({"toy": result, "later": not_run})
    finally:
        del CLAIMS["toy"], CLAIMS["later"]
    assert (
        "| A converged claim | nothing | third rate drop | each arm's own: a 0.01, b 0.03 "
        "| a control arm |" in summary
    )
    assert "of {0.003, 0.01, 0.03} on seed 0: a 0.01, b 0.03; at the grid's edge: a" in sections
    assert "| network | AlexNet | a small one |" in sections
    assert "| A toy claim | nothing | – | – | – | – | – | – | not tested: a day |" in summary


def test_a_speed_claims_thresholds_are_set_from_the_data(tmp_path):
    """Chance (90%) to the worse arm's converged training error (here 50%): a quarter,
    half and three quarters of the way are 80%, 70% and 60%; the verdict at 70%."""
    speed = Claim(
        "A speed claim",
        TOY.arms,
        frozenset(),
        "steps_to_train_error",
        paper="nothing",
        differs="",
        preconditions=("reaches_threshold",),
        log_scale=True,
        fractions=(0.25, 0.5, 0.75),
    )
    fast = [0.1] * 20 + [0.5] * 40 + [0.9] * 40  # trailing mean: ends at 10% error
    slow = [0.1] * 40 + [0.5] * 80 + [0.5] * 80  # ends at 50% error
    for seed in range(1, 6):
        write_run(tmp_path / "a" / str(seed), seed, 0.9, steps=fast)
        write_run(tmp_path / "b" / str(seed), seed, 0.9, steps=slow)
    result = aggregate("speed", speed, tmp_path, tmp_path)
    assert result["thresholds"]["errors"] == pytest.approx([0.8, 0.7, 0.6])
    assert result["threshold"] == pytest.approx(0.7)
    steps = result["thresholds"]["steps"]
    assert steps["paper's"][1] < steps["other"][1] < math.inf


def test_holms_correction_and_the_detectable_effect():
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == pytest.approx(
        {"a": 0.03, "c": 0.06, "b": 0.06}
    )
    spread_1pt = [0.10, 0.11, 0.12, 0.11, 0.10], [0.12, 0.13, 0.14, 0.13, 0.12]
    detectable = detectable_effect(TOY, *spread_1pt)
    assert 0.01 < detectable < 0.03  # (t(0.975, 8) + t(0.8, 8)) · 0.52 points ≈ 1.6 points
    # five times the seeds: half the detectable effect, about
    assert detectable_effect(TOY, *(v * 5 for v in spread_1pt)) == pytest.approx(
        detectable / math.sqrt(5), rel=0.25
    )


def test_many_tests_correct_the_verdicts_and_say_underpowered(tmp_path):
    """A claim at p = 0.042 on its own is no longer reproduced among three claims
    (Holm); where the paper's effect is below what the study detects, it says so."""
    small = Claim("small", TOY.arms, frozenset(), "test_error", "", "", paper_effect=-0.001)
    write_arms(
        tmp_path / "weak",
        {"a": [0.10, 0.12, 0.11, 0.13, 0.10], "b": [0.12, 0.14, 0.13, 0.14, 0.12]},
    )
    write_arms(
        tmp_path / "same",
        {"a": [0.10, 0.12, 0.11, 0.13, 0.10], "b": [0.11, 0.10, 0.12, 0.11, 0.13]},
    )
    results = {name: aggregate(name, small, tmp_path / name, tmp_path) for name in ("weak", "same")}
    assert results["weak"]["verdict"] == "reproduced"  # p = 0.042 alone
    assert results["same"]["verdict"].startswith("no difference detected (underpowered:")
    claims = {"weak": small, "same": small, "other": small}
    results["other"] = {**results["same"]}
    correct_for_many_tests(results, claims)
    assert results["weak"]["comparison"]["p_holm"] > 0.05
    assert results["weak"]["verdict"].startswith("no difference detected")


def test_a_run_has_converged_when_its_rate_was_lowered_three_times(tmp_path):
    """Read from the CSV log as Lightning writes it (the rate's rows have no epoch)."""
    write_arms(tmp_path / "done", {"a": [0.1] * 5, "b": [0.2] * 5}, rates=[0.1, 0.01, 1e-3, 1e-4])
    done, _ = converged(TOY, read_arms(TOY, tmp_path / "done"))
    write_arms(tmp_path / "capped", {"a": [0.1] * 5, "b": [0.2] * 5}, rates=[0.1, 0.01, 1e-3])
    capped, why = converged(TOY, read_arms(TOY, tmp_path / "capped"))
    assert done and not capped and "10 stopped at the cap" in why


@pytest.mark.slow
def test_training_stops_at_the_third_lowered_learning_rate(tmp_path):
    """The paper's endpoint, on a schedule that lowers the rate after epochs 1, 2 and 3:
    three epochs trained of the ten allowed."""
    result = run_script(
        "train.py", "scheduler=step", "scheduler.milestones=[1,2,3]",
        "callbacks=[default,stop_after_rate_drops]", "trainer.max_epochs=10",
        "++trainer.limit_train_batches=2", "++trainer.limit_val_batches=1", "logger=csv",
        "hydra.run.dir=run", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    with open(tmp_path / "run" / "csv" / "metrics.csv") as f:
        validated = [row for row in csv.DictReader(f) if row.get("val/acc")]
    assert len(validated) == 3
    assert rate_drops(read_run(tmp_path / "run")) == 3  # what the endpoint's check reads


def test_a_best_rate_at_the_grids_edge_extends_the_grid_that_way():
    grid = [0.001, 0.003, 0.01, 0.03, 0.1]
    assert rate_beyond(grid, 0.1) == 0.3 and rate_beyond(grid, 0.001) == 0.0003
    assert rate_beyond(grid, 0.01) is None


def test_a_finished_run_keeps_only_the_checkpoint_it_tested(tmp_path):
    run = tmp_path / "1"  # seed 1's run
    checkpoints = run / "checkpoints"
    checkpoints.mkdir(parents=True)
    for name in ("epoch_003.ckpt", "epoch_004.ckpt", "last.ckpt"):
        (checkpoints / name).write_bytes(b"weights")
    tested = checkpoints / "epoch_004.ckpt"
    (run / "results.json").write_text(json.dumps({"best_checkpoint": str(tested)}))
    keep_tested_checkpoint(run)
    assert list(checkpoints.iterdir()) == [tested]
    assert checkpoints_tested(tmp_path) == [tested]


def test_a_study_read_in_another_folder_finds_its_tested_checkpoints(tmp_path):
    """The published study is kept in the repository: a clone elsewhere reads each
    weight-decay run's norm from the run's own folder, not where results.json says the
    checkpoint was written."""
    run = tmp_path / "clone" / "weight_decay" / "wd" / "1"
    (run / "checkpoints").mkdir(parents=True)
    weights = {"conv.weight": torch.full((2, 2, 1, 1), 3.0), "conv.bias": torch.ones(2)}
    torch.save({"state_dict": weights}, run / "checkpoints" / "epoch_004.ckpt")
    trained_at = "/elsewhere/weight_decay/wd/1/checkpoints/epoch_004.ckpt"
    (run / "results.json").write_text(json.dumps({"best_checkpoint": trained_at}))
    assert weight_norm(read_run(run)) == pytest.approx(6.0)  # sqrt(4 × 9), bias left out


@pytest.mark.slow
def test_a_run_that_diverges_is_a_result_not_the_end_of_the_study(tmp_path, capsys):
    """A learning-rate grid reaches rates where training diverges: the run is marked
    and skipped when the study runs again; the study goes on."""
    study = Study("quick", tmp_path, jobs=1)
    diverging = ["data=digits", "trainer.max_epochs=1", "optimizer.lr=1e12", "test=false"]
    study.train_one("toy", "grid/a/lr_1e12", diverging, seed=1)
    run = tmp_path / "toy" / "grid" / "a" / "lr_1e12" / "1"
    assert "training diverged" in (run / "diverged").read_text()
    assert not (run / "results.json").exists()
    capsys.readouterr()
    study.train_one("toy", "grid/a/lr_1e12", diverging, seed=1)  # kept: not run again
    assert capsys.readouterr().out.strip() == "done   toy.grid.a.lr_1e12.1"
    (sitting,) = json.loads((tmp_path / "sittings.json").read_text())
    assert sitting["runs"] == 1 and sitting["last_run"] >= sitting["started"]


def test_each_sitting_of_a_study_is_recorded_with_its_machine_and_wall_time(tmp_path):
    """Each sitting of the study that finishes a run adds itself (its machine, versions,
    runs and last finished run) to sittings.json, and the report tables them with their
    wall time."""
    Sitting(tmp_path).run_finished()
    Sitting(tmp_path)  # a sitting that finished nothing: no entry
    later = Sitting(tmp_path)
    later.run_finished()
    later.run_finished()
    earlier, later = json.loads((tmp_path / "sittings.json").read_text())
    assert earlier["runs"] == 1 and later["runs"] == 2 and later["last_run"] >= later["started"]
    assert earlier["cores"] == os.cpu_count() and earlier["torch"] == torch.__version__
    earlier.update(started="2026-12-07T18:56:00+00:00", last_run="2026-12-07T21:42:00+00:00")
    earlier["by_hand"] = "from its commits"
    (tmp_path / "sittings.json").write_text(json.dumps([earlier, later]))
    lines = sittings_lines(tmp_path)
    row = "| 2026-12-07T18:56:00+00:00 | 2026-12-07T21:42:00+00:00 (from its commits) |"
    assert f"{row} {earlier['machine']} |" in "\n".join(lines)
    assert lines[-2] == "Wall time, each sitting's start to its last finished run: 2 h 46 min."
    assert sittings_lines(tmp_path / "elsewhere") == []


def test_a_failed_run_is_said_at_once_and_stops_only_its_claim(tmp_path, capsys):
    """A run the study cannot resume (its record is of other training: here a change of
    learning rate) fails at once, in one line with the reason and the way out, and
    ends its own task only; the study lists it at the end. (It had said nothing until
    every task before it in order had finished: hours, in the full study.)"""
    quick = ["data=digits", "trainer.max_epochs=1", "test=false"]
    run = tmp_path / "toy" / "a" / "1"
    first = run_script(
        "train.py", *quick, "optimizer.lr=0.001", "seed=1", f"hydra.run.dir={run}", cwd=ROOT
    )
    assert first.returncode == 0, first.stderr[-2000:]
    (run / "results.json").unlink()  # as if stopped before its end, from its last.ckpt
    study, others = Study("quick", tmp_path, jobs=1), []
    failed = run_all(
        [
            lambda: study.train_one("toy", "a", [*quick, "optimizer.lr=0.5"], seed=1),
            lambda: others.append("finished"),
        ]
    )
    assert failed == ["toy.a.1"] and others == ["finished"]
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "failed" in line]
    assert line.startswith("  failed toy.a.1 (status 2): error: resume=")
    assert "optimizer.lr: 0.001 → 0.5" in line and line.endswith(f"to train it anew, remove {run}")


@pytest.mark.slow
def test_the_studys_runs_end_when_the_study_is_killed(tmp_path):
    """SIGKILL leaves a study no chance to stop its runs: they die with it (Linux's
    parent-death signal), instead of training on into run folders that the study,
    started again, would train in too."""
    marker = uuid.uuid4().hex
    study = subprocess.Popen(
        [sys.executable, str(ROOT / "experiments/paper_claims/run_claims.py"), "--mode",
         "quick", "--claims", "dropout", "--jobs", "1", "--out", str(tmp_path)],
        env={**os.environ, "ALEXNET_TEST_MARK": marker},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len(marked_processes(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # until a run has started beside the study
    assert study.poll() is None and len(marked_processes(marker)) >= 2
    study.send_signal(signal.SIGKILL)
    study.wait()
    deadline = time.monotonic() + 10
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not marked_processes(marker), "a run outlived the study"
