"""Mistakes and mishaps of an unlucky or careless user, each as the user meets it: one
line with what to do, exit status 2, nothing left behind (issue 25)."""

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
from PIL import Image

from conftest import ROOT, error_line, run_report, run_script
from fixtures import write_class_tree

QUICK = ["trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=2"]
QUICK += ["+trainer.limit_test_batches=2", "logger=csv"]


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.batch_size=1.5", "error: data.batch_size=1.5: the value should be a valid integer"),
        ("optimizer.lr=abc", "error: optimizer.lr=abc: the value should be a valid number"),
        (
            "+trainer.max_epoch=2",
            "error: trainer.max_epoch is not an option of trainer (lightning.Trainer): "
            "did you mean trainer.max_epochs?",
        ),
        (
            "data.batchsize=3",
            "error: data.batchsize is not an option: did you mean data.batch_size?",
        ),
    ],
)
def test_a_bad_override_is_one_line_and_leaves_no_run_dir(override, message, tmp_path):
    result = run_script("train.py", override, *QUICK, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_line(result).startswith(message) and "Traceback" not in result.stderr
    assert result.stderr.count("is not an option") <= 1  # printed once
    assert not [f for f in files_under(tmp_path) if f.endswith(".log")]


@pytest.mark.slow
def test_a_folder_given_for_a_checkpoint_says_so(tmp_path):
    for key in ("ckpt_path", "init_from"):
        result = run_script("train.py", f"{key}={tmp_path}", *QUICK, cwd=tmp_path)
        assert result.returncode == 2
        assert error_line(result) == (
            f"error: {tmp_path} is a folder, not a checkpoint file: give a file, e.g. "
            f"{tmp_path}/<name>.ckpt"
        )


def test_resume_of_a_folder_that_is_not_a_run_writes_nothing(tmp_path):
    (tmp_path / "photos").mkdir()
    for target, why in (("photos", "is not a run"), ("mispelt/run", "does not exist")):
        result = run_script("train.py", f"resume={tmp_path / target}", *QUICK, cwd=tmp_path)
        assert result.returncode == 2
        assert error_line(result).startswith(f"error: resume={tmp_path / target} {why}")
    assert files_under(tmp_path) == ["photos"]


@pytest.mark.slow
def test_hostile_files_in_a_folder_are_skipped_and_listed(tmp_path):
    """A decompression bomb and a file whose name is not UTF-8 (unreadable, and one
    readable): the run trains, says how many it skipped, lists the names escaped."""
    from data.test_hostile_files import INVALID_UTF8, write_bomb

    photos = write_class_tree(tmp_path / "photos", ["a", "b"], 10)
    write_bomb(photos / "a" / "bomb.png")
    Image.new("RGB", (40, 40), (9, 9, 9)).save(photos / "a" / INVALID_UTF8)
    (photos / "b" / os.fsdecode(b"broken\xff.jpg")).write_bytes(b"not a jpeg")
    before = files_under(photos)
    result = run_script(
        "train.py",
        "data=image_folder",
        f"data.root={photos}",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        *QUICK,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped 2 unreadable image files (empty, corrupt or too large)" in result.stderr
    (listing,) = (tmp_path / "logs").rglob("skipped_images.txt")
    assert listing.read_text().splitlines() == [
        f"unreadable\t{photos / 'a' / 'bomb.png'}",
        f"unreadable\t{photos / 'b'}/broken\\xff.jpg",
    ]
    assert files_under(photos) == before  # nothing written into the user's folder
    assert list((tmp_path / "data" / ".cache").glob("statistics-*.json"))


def sweep(cwd, *extra):
    return run_script(
        "train.py",
        "hparams_search=alexnet_optuna",
        "hydra.sweeper.n_trials=1",
        *QUICK,
        "test=false",
        *extra,
        cwd=cwd,
    )


@pytest.mark.slow
def test_a_corrupt_study_database_names_itself_and_what_to_do(tmp_path):
    """A study of one trial whose database is then cut short: the sweep's rerun and the
    report each say so in one line."""
    assert sweep(tmp_path).returncode == 0
    database = tmp_path / "logs/train/sweeps/alexnet_optuna/study.db"
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 3])  # truncated
    message = (
        f"error: study database {database} is corrupt (database disk image is malformed): "
        "restore a backup of it, or start the study afresh with another "
        "hydra.sweeper.storage or study_name"
    )
    for result in (sweep(tmp_path), run_report(database.parent, cwd=tmp_path)):
        assert result.returncode == 2, result.stderr[-3000:]
        assert error_line(result) == message


@pytest.mark.slow
def test_a_locked_study_database_says_so(tmp_path):
    assert sweep(tmp_path).returncode == 0
    database = tmp_path / "logs/train/sweeps/alexnet_optuna/study.db"
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than SQLite waits
    try:
        result = sweep(tmp_path, "hydra.sweeper.n_trials=2")
    finally:
        holder.close()
    assert result.returncode == 2, result.stderr[-3000:]
    assert error_line(result).startswith(
        f"error: study database {database} is locked by another process (database is locked): "
        "wait for it to finish"
    )


FULL_DISK = """
mount -t tmpfs -o size=60m tmpfs logs || exit 77
"$PYTHON" "$ROOT/train.py" "$@"; echo "first exit $?"
mount -o remount,size=400m logs
"$PYTHON" "$ROOT/train.py" "$@" resume="$(ls -d "$PWD"/logs/train/runs/*)" > /dev/null 2>&1
echo "second exit $?"
"""


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_run_resumes(tmp_path):
    """The run directory on a 60 MiB file system (its own mount namespace): the first
    last.ckpt (35 MiB) fits, the second does not beside it. The run stops with one line;
    last.ckpt is whole; with space again, resume=<run dir> finishes the run."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a small file system")
    (tmp_path / "logs").mkdir()
    command = ["unshare", "--user", "--map-root-user", "--mount", "bash", "-c", FULL_DISK, "-"]
    arguments = [
        *QUICK,
        "+trainer.limit_train_batches=6",
        "fault_tolerance.checkpoint_every_n_steps=2",
    ]
    arguments.remove("+trainer.limit_train_batches=2")
    env = {**os.environ, "PYTHON": sys.executable, "ROOT": str(ROOT)}
    result = subprocess.run(
        [*command, *arguments], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    if "first exit" not in result.stdout:
        pytest.skip(f"cannot mount a file system here: {result.stderr[-300:]}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "first exit 2" in result.stdout and len(errors) == 1, result.stderr[-3000:]
    assert errors[0].startswith("error: no space left to write ") and "last.ckpt" in errors[0]
    assert "the previous last.ckpt is intact: free some space, then continue with " in errors[0]
    assert "second exit 0" in result.stdout, result.stderr[-3000:]
