"""The prepare task: an image dataset's copy at the paper's resolution, made once; and
the copies under the data directory listed, or one removed."""

import datetime
import shutil
from pathlib import Path

from alexnet.builder import build_data
from alexnet.console import inform, show_table
from alexnet.data.datasets.file_datamodule import ImageFilesDataModule
from alexnet.data.datasets.registry import dataset_class
from alexnet.data.storage.prepared import copies
from alexnet.errors import UserError
from alexnet.spec import PrepareSpec


def prepare(spec: PrepareSpec) -> Path:
    """``action=prepare``: write (or finish, or bring up to date) the prepared copy of the
    composed train config's dataset, at the size its model's crop needs, and say where
    it is and how to train from it. ``action=list``: the copies in the folder copies
    are written to; ``action=remove copy_name=<name>``: delete one. Returns the folder."""
    folder = Path((spec.data.arguments.get("prepared") or {}).get("dir") or "")
    folder = folder if folder.parts else Path(spec.paths.data_dir) / "prepared"
    if spec.action == "list":
        list_copies(folder)
        return folder
    if spec.action == "remove":
        return remove_copy(folder, spec.copy_name)
    data = spec.parts().data
    if not issubclass(dataset_class(data.name), ImageFilesDataModule):
        raise UserError(
            f"data={data.name} is held in memory whole and needs no preparing; prepare.py is "
            "for the image-file datasets (caltech101, imagenette, imagenet_subset, image_folder)"
        )
    copy = {**(data.kwargs.get("prepared") or {}), "use": True}
    datamodule = build_data(data.model_copy(update={"kwargs": {**data.kwargs, "prepared": copy}}))
    datamodule.prepare_data()
    folder = datamodule.prepared_location
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    inform(
        f"prepared: {folder} ({size / 2**20:,.1f} MiB). Train from it with the same options "
        "and data.prepared.use=true; from a copy of it elsewhere with data.prepared.uri=<its URL>"
    )
    return folder


def list_copies(folder: Path) -> None:
    found = copies(folder)
    if not found:
        inform(f"no prepared copies in {folder}")
        return
    rows = [
        [c["name"], c["source"], f"{c['images']:,}", f"{c['MiB']:,.1f}",
         datetime.datetime.fromtimestamp(c["written"]).strftime("%Y-%m-%d %H:%M")]
        for c in found
    ]  # fmt: skip
    show_table(f"Prepared copies in {folder}", ["copy", "source", "images", "MiB", "written"], rows)
    total = sum(c["MiB"] for c in found)
    inform(f"{total:,.1f} MiB in all; remove one with action=remove copy_name=<copy>")


def remove_copy(folder: Path, name: str | None) -> Path:
    names = [c["name"] for c in copies(folder)]
    if name not in names:
        listed = ", ".join(names) or "none"
        raise UserError(f"copy_name={name} is not a prepared copy in {folder} (there: {listed})")
    shutil.rmtree(folder / name)
    inform(f"removed {folder / name}")
    return folder / name
