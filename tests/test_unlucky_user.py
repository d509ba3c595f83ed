"""What an unlucky user meets — small or odd folders, links, a missing input, a misspelt
metric, object storage that does not answer — each said in one line that names a fix
which, followed, gets further."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alexnet.data import ImageFolderDataModule
from alexnet.data.storage.prepared import ShardStore
from alexnet.errors import UserError
from alexnet.tasks.predict import predict
from conftest import compose_config, error_line, free_port, run_script, run_task
from fixtures import write_class_tree


def folder(root: Path, **options) -> ImageFolderDataModule:
    datamodule = ImageFolderDataModule(root=str(root), image_size=32, num_workers=0, **options)
    datamodule.setup()
    return datamodule


def test_a_class_folder_linked_into_another_counts_each_file_once(tmp_path):
    root = write_class_tree(tmp_path / "photos", ["class0", "class1"], 10)
    (root / "class0" / "sib").symlink_to("../class1")
    datamodule = folder(root)
    paths = [p for p, _ in datamodule.found.samples]
    assert len(paths) == 20 and len({Path(p).resolve() for p in paths}) == 20
    labels = {Path(p).resolve().parent.name: y for p, y in datamodule.found.samples}
    assert labels == {"class0": 0, "class1": 1}  # class1's images are class1's
    assert f"{root / 'class0' / 'sib'} → {root / 'class1'}" in datamodule.found.summary()


def test_a_link_back_up_a_class_folder_ends_and_counts_each_file_once(tmp_path):
    """A link cycle (a sub-folder linked to its class folder) is walked once: the scan
    ends and each image counts once, under its own path."""
    root = write_class_tree(tmp_path / "photos", ["class0", "class1"], 3)
    (root / "class0" / "again").symlink_to("..")
    (root / "class0" / "again2").symlink_to(root / "class0")
    datamodule = folder(root)
    paths = sorted(p for p, y in datamodule.found.samples if y == 0)
    assert paths == [str(root / "class0" / f"img_{i:04d}.jpg") for i in (1, 2, 3)]


@pytest.mark.parametrize(
    ("classes", "said"),
    [([], "has no class folders"), (["only"], "has one class folder (only/)")],
)
def test_a_folder_of_fewer_than_two_classes_says_how_to_lay_it_out(classes, said, tmp_path):
    root = write_class_tree(tmp_path / "photos", classes, 10)
    root.mkdir(exist_ok=True)
    with pytest.raises(UserError, match="a classifier needs two classes or more") as refused:
        folder(root)
    assert said in str(refused.value) and f"{root}/<class>/" in str(refused.value)


def test_many_small_classes_train_with_the_default_fractions(tmp_path):
    """300 classes of 2 images: a held-out image each from as many classes as the
    fractions ask; every class keeps one to train on."""
    root = write_class_tree(tmp_path / "photos", [f"c{i:03d}" for i in range(300)], 2)
    datamodule = folder(root, check_files=False)
    assert len(datamodule.val_set) == 60 and len(datamodule.test_set) == 60
    assert {y for _, y in datamodule.train_set.samples} == set(range(300))
    validated = folder(root, check_files=False, test_fraction=0.0)  # test=false needs no test
    assert validated.test_set.samples == validated.val_set.samples


def test_every_class_of_one_image_is_one_line(tmp_path):
    root = write_class_tree(tmp_path / "photos", ["a", "b", "c"], 1)
    with pytest.raises(UserError, match="every class has one image"):
        folder(root)


def test_the_fraction_that_cannot_hold_out_is_named(tmp_path):
    root = write_class_tree(tmp_path / "photos", ["a", "b"], 10)
    with pytest.raises(UserError, match=r"data.val_fraction \+ data.test_fraction = 1 leaves"):
        folder(root, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(UserError, match="give data.val_fraction above 0, or val/"):
        folder(root, val_fraction=0.0)


def test_predict_without_inputs_says_what_to_give(tmp_path, trained):
    cfg = compose_config(tmp_path, f"ckpt_path={trained[0]}", "inputs=[]", config_name="predict")
    with pytest.raises(UserError, match=r"inputs=\[\] names no images: give inputs=\["):
        run_task(predict, cfg)


@pytest.mark.slow
@pytest.mark.parametrize("pruner", [["hydra/sweeper/pruner=median"], []], ids=["median", "none"])
def test_a_misspelt_pruning_metric_is_one_line_before_any_trial_trains(pruner, tmp_path):
    result = run_script(
        "train.py", "hparams_search=alexnet_optuna", *pruner,
        "hydra.sweeper.pruning_metric=val/acc_bset", "hydra.sweeper.n_trials=1",
        "debug=limit", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert error_line(result).endswith("did you mean val/acc_best?")
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.fixture
def locked_bucket(tmp_path):
    """moto's S3 server in a process of its own that checks every request's credentials
    (none are known to it): a bucket whose access is denied."""
    pytest.importorskip("s3fs")
    port = free_port()
    env = {"INITIAL_NO_AUTH_ACTION_COUNT": "0", "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.kill()
    server.wait()


def silent_server() -> tuple[socket.socket, str]:
    """An endpoint that takes connections and never answers."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    return listening, f"http://127.0.0.1:{listening.getsockname()[1]}"


SAID = {
    "no bucket": "bucket",
    "no credentials": "credentials",
    "access denied": "Forbidden",
    "endpoint down": "Could not connect",
    "no answer": "timeout",
}


@pytest.mark.parametrize("case", ["no bucket", "no credentials", "access denied", "endpoint down",
                                  "no answer"])  # fmt: skip
def test_object_storage_that_fails_is_one_line_naming_the_url(
    case, tmp_path, monkeypatch, s3_bucket, locked_bucket
):
    keys = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    url, timeout, silent = "s3://bucket/copy", 30.0, None
    if case == "no bucket":
        url = "s3://no-such-bucket/copy"
    if case == "no credentials":
        for key in keys:
            monkeypatch.delenv(key)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if case == "access denied":
        monkeypatch.setenv("AWS_ENDPOINT_URL", locked_bucket)
    if case == "endpoint down":
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    if case == "no answer":
        silent, endpoint = silent_server()
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        timeout = 1.0
    started = time.monotonic()
    with pytest.raises(UserError) as refused:
        ShardStore(url, tmp_path / "cache", timeout_s=timeout).read_text("dataset.json")
    assert time.monotonic() - started < 30
    line = str(refused.value)
    assert "\n" not in line and url in line, line
    assert SAID[case] in line, line
    if silent is not None:
        silent.close()


@pytest.mark.slow
def test_training_from_a_bucket_that_is_not_there_is_one_line(tmp_path, s3_bucket):
    photos = write_class_tree(tmp_path / "photos", ["a", "b"], 10)
    result = run_script(
        "train.py", "data=image_folder", f"data.root={photos}",
        "data.prepared.uri=s3://no-such-bucket/copy", "debug=limit", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    assert "s3://no-such-bucket/copy/dataset.json" in error_line(result)
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_prepared_copies_are_listed_and_one_is_removed(tmp_path):
    photos = write_class_tree(tmp_path / "photos", ["a", "b"], 10)
    options = ["data=image_folder", f"data.root={photos}", "data.preset=small"]
    assert run_script("prepare.py", *options, cwd=tmp_path).returncode == 0
    listed = run_script("prepare.py", "action=list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr[-3000:]
    (name,) = [line.split()[0] for line in listed.stdout.splitlines() if "imagefolder-" in line]
    assert str(photos) in listed.stdout and "20" in listed.stdout
    removed = run_script("prepare.py", "action=remove", f"copy_name={name}", cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr[-3000:]
    assert not any((tmp_path / "data" / "prepared").iterdir())
    again = run_script("prepare.py", "action=remove", f"copy_name={name}", cwd=tmp_path)
    assert again.returncode == 2 and "is not a prepared copy" in error_line(again)
