"""What `make train` prints: plain, parseable lines into a pipe or a file; Rich's live
display on a terminal (a real pseudo-terminal here)."""

import json
import os
import pty
import re
import subprocess
import sys

import pytest

from conftest import ROOT, run_script, start, wait_for

RUN = ["trainer.max_epochs=2", "trainer.limit_train_batches=5", "logger=csv"]
ANSI = re.compile(r"\x1b\[")


@pytest.mark.slow
def test_piped_output_is_plain_lines(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *RUN],
        cwd=tmp_path,
        capture_output=True,  # two real pipes
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert not ANSI.search(out) and "\r" not in out  # no redraws, no colours
    steps = re.findall(
        r"^epoch (\d)/2 step (\d+)/(\d+) loss [\d.]+ \d+ img/s ETA \d:\d\d:\d\d$", out, re.M
    )
    assert [s[0] for s in steps][-1] == "2" and steps[-1][1] == steps[-1][2] == "5"
    assert re.search(r"^epoch 2/2 val loss [\d.]+ val top-1 [\d.]+% best [\d.]+%$", out, re.M)
    assert re.search(r"^test\s+[\d.]+%\s+[\d.]+%\s+[\d.]+%\s+[\d.]+%\s+[\d.]+$", out, re.M)
    logged = result.stderr  # Lightning's messages, the model summary among them
    assert "eval_metrics" not in logged and "net.features" in logged  # the net's layers only


@pytest.mark.slow
def test_a_terminal_gets_the_rich_display(tmp_path):
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *RUN],
        cwd=tmp_path,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=300) == 0
    out = b"".join(chunks).decode(errors="replace")
    assert ANSI.search(out) and "┏" in out  # Rich's colours and its table
    assert not re.search(r"^epoch \d/2 step", out, re.M)


@pytest.mark.slow
def test_a_run_resumed_mid_epoch_prints_its_own_speed(tmp_path):
    """The speed and the time left count the batches this process did, from its start
    (Lightning calls no on_train_epoch_start for an epoch resumed part-way)."""
    overrides = [
        *RUN,
        "fault_tolerance.checkpoint_every_n_steps=3",  # 3, 6 and 9 of 2 epochs' 5 steps
        "callbacks.progress_bar.every_s=0",  # a line every step
    ]
    killed = start(tmp_path / "run", *overrides)
    wait_for(tmp_path / "run" / "checkpoints" / "last.ckpt", killed)
    killed.kill()
    killed.wait()
    resumed = run_script("train.py", *overrides, f"resume={tmp_path / 'run'}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (resume,) = json.loads((tmp_path / "run" / "resumes.json").read_text())
    assert resume["global_step"] % 5 != 0, "not resumed mid-epoch"
    first = re.search(
        r"^epoch \d/2 step \d/5 loss [\d.]+ (\d+) img/s ETA (\S+)$", resumed.stdout, re.M
    )
    assert first and int(first[1]) > 0 and first[2] < "0:01:00", resumed.stdout
