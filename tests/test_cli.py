"""The entry points as a user runs them: mistakes end with one line and status 2."""

import pytest

from conftest import error_line, run_script
from fixtures import NO_NETWORK

SLOW = pytest.mark.slow  # the cases `make test` leaves to `make test-all`


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            ["optimizer.lr=-0.1"], "error: optimizer: Invalid learning rate: -0.1", id="lr"
        ),
        pytest.param(
            ["data.batch_size=0"],
            "error: data.batch_size=0 must be a positive integer",
            id="batch_size",
            marks=SLOW,
        ),
        pytest.param(
            ["model=resnet"], "Available options in 'model': alexnet alexnet_bn", id="model"
        ),
        pytest.param(
            ["data=imagenet21k"], "Could not find 'data/imagenet21k'", id="data", marks=SLOW
        ),
        pytest.param(
            ["model.norm=group"],
            "error: model.norm='group' is not one of lrn, lrn_within_map, bn, none",
            id="norm",
            marks=SLOW,
        ),
        pytest.param(
            ["trainer.max_epoch=2"],
            "trainer.max_epoch is not an option: did you mean trainer.max_epochs?",
            id="typo",
        ),
        pytest.param(
            ["data=cifar10", "data.root=missing"],
            "Download https://www.cs.toronto.edu/",
            id="offline-cifar10",
        ),
        pytest.param(
            ["data=image_folder"],
            "data=image_folder needs data.root=<your class folders> (or data.prepared.uri=",
            id="image-folder-root",
            marks=SLOW,
        ),
        pytest.param(
            ["data=caltech101", "data.root=missing"],
            "caltech101/101_ObjectCategories",
            id="offline-caltech101",
            marks=SLOW,
        ),
        pytest.param(
            ["debug=limit", "data.batch_size=512"],
            "Please increase the `limit_train_batches`",
            id="lightning-setting",
            marks=SLOW,
        ),
    ],
)
def test_user_errors_exit_2_with_one_line(overrides, message, tmp_path):
    result = run_script("train.py", *overrides, "logger=csv", env=NO_NETWORK, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in error_line(result), result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@SLOW
def test_a_mandatory_option_left_out_is_named(tmp_path):
    result = run_script("eval.py", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert error_line(result) == "error: ckpt_path has no value: add ckpt_path=... to the command"


def test_train_prints_the_results_table_and_run_dir(tmp_path):
    result = run_script("train.py", "debug=fast_dev_run", "data.batch_size=8", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "top-1 acc" in result.stdout and "top-5 acc" in result.stdout
    assert "3.1 M     Total params" in result.stderr  # alexnet_mini's summary
    assert f"run directory: {tmp_path / 'logs' / 'train' / 'runs'}" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # nothing else in the cwd


@SLOW  # a fresh interpreter importing everything: seconds
def test_importing_the_package_changes_nothing_global():
    """Importing every entry point's modules registers no OmegaConf resolver and leaves
    PIL's settings and Python's warning filters as they were: that happens when a
    command runs (alexnet.run.cli.run_hydra), where the images are opened, or not at all."""
    import subprocess
    import sys

    probe = (
        "import warnings; from omegaconf import OmegaConf; from PIL import Image, ImageFile\n"
        "import lightning, torchvision, hydra, optuna, wandb, matplotlib, sklearn  # theirs\n"
        "settings = lambda: (list(warnings.filters), Image.MAX_IMAGE_PIXELS,\n"
        "                    ImageFile.LOAD_TRUNCATED_IMAGES)\n"
        "before = settings()\n"
        "import alexnet.run.cli, alexnet.tasks.train, alexnet.tasks.predict, alexnet.tasks.export\n"
        "import alexnet.tasks.evaluate, alexnet.tasks.features, alexnet.report\n"
        "import alexnet.sweeps.sweeper\n"
        "resolvers = [n for n in ('run_dir', 'new_dir', 'best_mixed_precision', 'config_help')\n"
        "             if OmegaConf.has_resolver(n)]\n"
        "print(before == settings(), resolvers)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.split("\n")[0] == "True []", result.stderr[-2000:]
