"""Every command README.md and docs/ show runs as written — smaller only by fewer
epochs, batches or trials, never through fast_dev_run or with loggers or callbacks
switched off — in a folder of its own whose data are fixtures in each dataset's real
on-disk format; or another test runs it as written (RUN_ELSEWHERE); or it cannot run
on this machine, and NOT_HERE says why. A command a page adds is in none of them until
someone decides, and this test fails until then."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from test_docs import PAGES

from conftest import ROOT
from fixtures import write_caltech101, write_cifar10, write_class_tree, write_image

SMALLER = {
    "train.py": [
        "trainer.max_epochs=1",
        "++trainer.limit_train_batches=2",
        "++trainer.limit_val_batches=2",
        "++trainer.limit_test_batches=2",
    ],
    "eval.py": ["++trainer.limit_test_batches=2"],
}
FEWER_TRIALS = ["hydra.sweeper.n_trials=2"]
COMMAND = re.compile(
    r"^(python|make|torchrun|srun|optuna-dashboard|wandb|aws|apt-get|sudo|pip|source) "
)

GPU = "needs a GPU (make gpu-check runs the GPU paths on a lent one)"
SLURM = "needs a SLURM cluster; launcher=submitit_local runs the same path here"
POSTGRES = "needs a PostgreSQL server; tests/test_study.py starts one and shares a study on it"
NOT_HERE = {
    "make install": "the set-up: .ci/run runs it on a fresh clone",
    "source .venv/bin/activate": "the set-up: .ci/run runs it on a fresh clone",
    "make test": ".ci/run runs it (make test-all starts with it)",
    "make test-all": ".ci/run runs it",
    "make bench": "each benchmark runs at a tiny size in tests/test_benchmarks.py",
    "make bench-gpu": GPU,
    "make gpu-check": GPU,
    "make data": "installs a Debian package (root)",
    "apt-get install plasma-workspace-wallpapers": "installs a Debian package (root)",
    "make claims": "the whole study takes over an hour; .ci/run runs CLAIMS=quick",
    "make claims CLAIMS=quick": ".ci/run runs it as written",
    "python train.py trainer=gpu": GPU,
    "python train.py trainer=gpu model=alexnet data=imagenet_subset": GPU,
    "python train.py trainer=ddp model=alexnet trainer.devices=2 data.batch_size=64": GPU,
    "python train.py -m launcher=slurm trainer=gpu model=alexnet_bn,alexnet": SLURM,
    "python train.py -m launcher=slurm trainer=gpu hydra.launcher.partition=<partition> "
    "model=alexnet_bn,alexnet": SLURM,
    "python train.py hparams_search=alexnet_optuna launcher=slurm hydra.sweeper.n_jobs=8 "
    "hydra.launcher.partition=<partition> trainer=gpu": SLURM,
    "srun --kill-on-bad-exit=1 python train.py trainer=ddp trainer.devices=4 "
    "trainer.num_nodes=2 hydra.run.dir=logs/train/runs/$SLURM_JOB_ID": SLURM,
    "torchrun --nnodes=2 --nproc-per-node=4 --node-rank=<0 or 1> --master-addr=<first node> "
    "--master-port=29500 train.py trainer=ddp trainer.devices=4 trainer.num_nodes=2 "
    "hydra.run.dir=logs/train/runs/<run name>": "needs GPU nodes; tests/test_ddp.py runs two "
    "torchrun agents as two nodes on 127.0.0.1",
    "sudo -u postgres createuser --pwprompt alexnet && sudo -u postgres createdb -O alexnet "
    "studies": POSTGRES,
    "python train.py hparams_search=alexnet_optuna hydra.sweeper.n_trials=100 "
    "hydra.sweeper.study_name=shared "
    "hydra.sweeper.storage=postgresql://alexnet:<password>@<db host>/studies": POSTGRES,
    "wandb sync logs/train/runs/<run>/wandb/offline-run-<date>_<time>-<id>": "needs W&B's servers",
    "wandb sync logs/train/multiruns/<sweep>/*/wandb/offline-run-*": "needs W&B's servers",
}
PHOTOS = (
    "tests/test_readme_promises.py::test_the_prepared_photos_commands_train_and_resume_after_kill_9"
)
RUN_ELSEWHERE = {
    "python experiments/benchmarks/prepared_data/make_photos.py photos": PHOTOS,
    "python prepare.py data=image_folder data.root=photos data.preset=paper model=alexnet": PHOTOS,
    "python train.py data=image_folder data.root=photos data.preset=paper model=alexnet "
    "data.prepared.use=true": PHOTOS,
    "python train.py data=image_folder data.root=photos data.preset=paper model=alexnet "
    "data.prepared.use=true resume=last": PHOTOS,
    "python -m alexnet.upgrade old.ckpt new.ckpt": "tests/test_checkpoints.py::"
    "test_old_checkpoints_are_refused_with_the_command_that_converts_them",
}


def commands_shown(page: Path) -> list[str]:
    """The commands of a page's code blocks (a line continued with \\ joined, a comment
    dropped) and of its table cells, in order."""
    lines, shown, fenced = page.read_text().splitlines(), [], False
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            text = line.strip()
            while text.endswith("\\") and index + 1 < len(lines):
                index += 1
                text = text[:-1].rstrip() + " " + lines[index].strip()
            if COMMAND.match(text):
                shown.append(re.sub(r"\s+#.*$", "", text))
        elif line.startswith("|"):
            shown += [cell for cell in re.findall(r"`([^`]+)`", line) if COMMAND.match(cell)]
        index += 1
    return shown


def test_every_command_shown_is_run_or_said_why_not():
    """Fast: each command is run here, run by another test, or not here with a reason."""
    for page in PAGES:
        for command in commands_shown(page):
            assert (
                command.startswith(("python ", "make report "))
                or command in NOT_HERE
                or (command in RUN_ELSEWHERE)
            ), f"{page.name}: `{command}` is neither run here nor said why not (NOT_HERE)"
    for where in RUN_ELSEWHERE.values():
        file, test = where.split("::")
        assert f"def {test}(" in (ROOT / file).read_text(), where


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """A folder to run the pages' commands in: the datasets they name as fixtures in the
    data directory, class folders of photos, a picture, torchvision's AlexNet weights
    in torch's cache (random: they stand in for the ImageNet file), and trained runs
    for the commands that read one."""
    folder = tmp_path_factory.mktemp("docs")
    data = folder / "data"
    write_cifar10(data / "cifar10", per_batch=1020)  # the real validation split: 5,000 images
    write_caltech101(data, per_class=40)
    for name in ("my_photos", "photos"):
        write_class_tree(folder / name, ["cat", "dog", "fox"], 12)
    write_image(folder / "cat.jpg", size=(64, 48))
    weights = folder / "torch" / "hub" / "checkpoints"
    weights.mkdir(parents=True)
    torch.save(torchvision.models.alexnet().state_dict(), weights / "alexnet-owt-7be5be79.pth")
    env = {
        **os.environ,
        "ALEXNET_DATA_DIR": str(data),
        "TORCH_HOME": str(folder / "torch"),
        "WANDB_MODE": "offline",
    }
    world = {"folder": folder, "env": env}
    for name, overrides in {
        "digits": [],
        "photos": ["data=image_folder", "data.root=photos"],
        "caltech101": ["data=caltech101"],
    }.items():
        run = folder / "logs" / "train" / "runs" / name
        ran = run_command(["python", "train.py", *overrides, *SMALLER["train.py"],
                           f"hydra.run.dir={run}"], world)  # fmt: skip
        assert ran.returncode == 0, ran.stderr[-3000:]
        world[name] = (run, overrides)
    return world


def filled(command: str, world: dict) -> list[str]:
    """The command with its placeholders filled from the world, smaller."""
    digits_run, digits_overrides = world["digits"]
    run = world["caltech101" if "caltech101" in command else "photos"][0]
    for placeholder, value in {
        "<same overrides> resume=logs/train/runs/<run>": " ".join(
            [*digits_overrides, *SMALLER["train.py"], f"resume={digits_run}"]
        ),
        "logs/train/runs/<run>": str(run),
        "<run>": str(run),
        "ckpt_path=...": f"ckpt_path={run}/checkpoints/last.ckpt",
        "data.root=...": "data.root=my_photos",
        "[data=caltech101]": "data=caltech101",
        "logs/train/multiruns/<sweep>": str(world["folder"] / "logs" / "train" / "runs"),
        "/shared/": f"{world['folder']}/shared/",
    }.items():
        command = command.replace(placeholder, value)
    argv = shlex.split(command)
    script = next((a for a in argv if a.endswith(".py")), "")
    if "--help" in argv or "--cfg" in argv:
        return argv
    argv += SMALLER.get(script, [])
    if "hparams_search=alexnet_optuna" in argv:
        argv += FEWER_TRIALS
    return argv


def run_command(argv: list[str], world: dict) -> subprocess.CompletedProcess:
    """``argv`` as a user runs it in the world's folder: ``python`` is this Python, a
    script is the repository's; ``make`` runs in the repository (its Makefile and
    .venv), on the world's runs."""
    if argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
        if argv[1].endswith(".py"):
            argv[1] = str(ROOT / argv[1])
    elif argv[0] == "make":  # in the repository, on the world's runs
        runs = [re.sub(r"^RUNS=(?!/)", f"RUNS={world['folder']}/", a) for a in argv[1:]]
        argv = ["make", "-s", "-C", str(ROOT), f"VENV={sys.prefix}", *runs]
    return subprocess.run(
        argv, cwd=world["folder"], env=world["env"], capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_commands_of_a_page_run_as_written(page, world):
    ran = world.setdefault("ran", set())  # a command on several pages runs once
    for command in commands_shown(page):
        if command in NOT_HERE or command in RUN_ELSEWHERE or command in ran:
            continue
        kept = set(world["folder"].rglob("*.ckpt"))
        result = run_command(filled(command, world), world)
        assert result.returncode == 0, f"{command}:\n{result.stderr[-3000:]}"
        ran.add(command)
        for written in set(world["folder"].rglob("*.ckpt")) - kept:
            written.unlink()  # no later command reads them: the paper network's are 683 MB
