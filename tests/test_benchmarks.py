"""Every benchmark in experiments/benchmarks/ runs, at a tiny size, as its README's
command does (the figures themselves are measured by running the benchmarks, not here):
so that none of them stops working unnoticed when the code under it changes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_script
from fixtures import write_class_tree

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "experiments" / "benchmarks"


def run_benchmark(script: str, *args: str, cwd: Path) -> str:
    """The benchmark's output; its error output in the failure message when it fails."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "WANDB_MODE": "disabled"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table_rows(out: str) -> list[list[str]]:
    """The cells of every Markdown table row printed, less headers and rules."""
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    is_rule = [set(line) <= set("|- ") for line in lines]
    return [
        line.strip("| ").split(" | ")
        for i, line in enumerate(lines)
        if not is_rule[i] and not (i + 1 < len(lines) and is_rule[i + 1])
    ]


def test_every_benchmark_is_run_by_this_test():
    scripts = {p.relative_to(BENCHMARKS).as_posix() for p in BENCHMARKS.glob("*/bench_*.py")}
    assert scripts == {
        "prepared_data/bench_formats.py",
        "overhead/bench_overhead.py",
        "small_dataset_epoch/bench_small_epoch.py",
        "data_loading/bench_loading.py",
        "gpu_throughput/bench_gpu.py",
        "out_of_the_box/bench_out_of_the_box.py",
        "prepared_data/bench_prepared.py",
        "startup/bench_startup.py",
    }


@pytest.mark.slow
def test_overhead_benchmark_trains_the_same_losses_both_ways(tmp_path):
    out = run_benchmark(
        "overhead/bench_overhead.py", "--steps", "4", "--skip", "1", "--repeats", "1", cwd=tmp_path
    )
    assert re.search(r"per-step time ratio train task / plain loop: \d+\.\d{3}", out)
    difference = float(re.search(r"largest difference (\S+)", out).group(1))
    assert difference < 1e-4  # the same model, data, order and loss on both paths


@pytest.mark.slow
def test_startup_benchmark_tables_the_phases_and_both_ratios(tmp_path):
    out = run_benchmark(
        "startup/bench_startup.py", "--repeats", "1", "--epochs", "1", "--work", str(tmp_path),
        cwd=tmp_path,
    )  # fmt: skip
    phases = {row[0]: row[1:] for row in table_rows(out)}
    assert float(phases["imports"][1]) > 0 and float(phases["imports"][3]) > 0  # both sides
    assert phases["composing the config"][2] == "—"  # the plain script has no config
    assert float(phases["first step"][1]) > float(phases["loggers"][1])
    assert re.search(r"start-up ratio .*: \d+\.\d\d", out)
    assert re.search(r"whole-run ratio ours / plain, W&B offline: \d+\.\d{3}", out)
    assert re.search(r"whole-run ratio ours / plain: \d+\.\d{3}", out)


@pytest.mark.slow
def test_small_epoch_benchmark(tmp_path):
    out = run_benchmark(
        "small_dataset_epoch/bench_small_epoch.py",
        "--train-steps", "2", "--images-per-batch-file", "100",
        cwd=tmp_path,
    )  # fmt: skip
    rows = table_rows(out)
    assert len(rows) == 7  # 4 data paths, 3 training paths
    # torchvision's loaders pass the whole training split, the task's its 500 less 50 for
    # validation
    assert [int(row[1]) for row in rows[:4]] == [500, 500, 450, 450]


@pytest.mark.slow
def test_loading_benchmark(tmp_path):
    out = run_benchmark(
        "data_loading/bench_loading.py",
        "--images", "8", "--workers", "0", "--repeats", "1", "--train-batch", "2",
        cwd=tmp_path,
    )  # fmt: skip
    assert len(table_rows(out)) >= 2 and "the paper's network trains at" in out


@pytest.mark.slow
def test_gpu_benchmark_runs_on_the_cpu(tmp_path):
    out = run_benchmark(
        "gpu_throughput/bench_gpu.py",
        "--device", "cpu", "--batch", "2", "--steps", "1", "--warmup", "1",
        "--settings", "fp32", "--models", "alexnet_mini", "--json", str(tmp_path / "rows.json"),
        cwd=tmp_path,
    )  # fmt: skip
    (plain, lightning) = table_rows(out)
    assert plain[4] == "plain" and lightning[4] == "Lightning"
    assert (tmp_path / "rows.json").is_file()


@pytest.mark.slow
def test_out_of_the_box_benchmark_on_the_digits(tmp_path):
    out = run_benchmark(
        "out_of_the_box/bench_out_of_the_box.py",
        "--work", str(tmp_path / "work"), "--only", "digits", "--epochs", "1",
        cwd=tmp_path,
    )  # fmt: skip
    rows = table_rows(out)
    assert [row[1] for row in rows] == [
        "ours, first run",
        "ours, again",
        "plain",
        "ours (first run) ÷ plain",
        "ours (again) ÷ plain",
    ]
    for row in rows[:3]:  # the start-up (to the first step) is within the wall time
        startup, wall = (float(cell.removesuffix(" s")) for cell in row[3:5])
        assert 0 < startup < wall
    assert (tmp_path / "work" / "plain_digits" / "best.pt").is_file()  # the same work


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/usr/share/wallpapers/Autumn").is_dir(),
    reason="needs Debian's photographs: apt-get install plasma-workspace-wallpapers",
)
def test_prepared_data_benchmark_on_real_photographs(tmp_path):
    out = run_benchmark(
        "prepared_data/bench_prepared.py",
        "--work", str(tmp_path / "work"), "--classes", "3", "--per-class", "12",
        "--seconds", "0.5", "--epochs", "1", "--seeds", "2",
        cwd=tmp_path,
    )  # fmt: skip
    rows = table_rows(out)
    assert [row[0] for row in rows[:3]] == [
        "JPEG files (data.prepared.use=false)",
        "prepared 256 px (data.prepared.use=true)",
        "prepared 256 px as JPEG q90, decoded on the CPU (data.prepared.jpeg_quality=90)",
    ]
    assert float(rows[1][1]) > 0 and len(rows) == 5  # and a row of test top-1 each way
    assert "prepared − JPEG:" in out and "the source JPEGs" in out


@pytest.mark.slow
def test_formats_benchmark_reads_the_same_squares_in_every_format(tmp_path):
    write_class_tree(tmp_path / "photos", ["a", "b"], 10)
    prepared = run_script(
        "prepare.py", "data=image_folder", "data.root=photos", "data.preset=paper", cwd=tmp_path
    )
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    (train,) = (tmp_path / "data" / "prepared").glob("*/train")
    out = run_benchmark(
        "prepared_data/bench_formats.py", str(train), "--work", str(tmp_path / "formats"),
        "--seconds", "0.2", cwd=tmp_path,
    )  # fmt: skip
    names = [row[0].rsplit(" ", 1)[0] for row in table_rows(out)]
    assert names == ["numpy shards, memory-mapped", "LitData", "WebDataset"]
    assert "mosaicml-streaming: not measured (No module named 'streaming')" in out
