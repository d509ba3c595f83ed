"""The prepare task: an image dataset's copy at the paper's resolution, made once."""

from pathlib import Path

from alexnet.builder import build_data
from alexnet.console import inform
from alexnet.data.datasets.file_datamodule import ImageFilesDataModule
from alexnet.data.datasets.registry import dataset_class
from alexnet.errors import UserError
from alexnet.spec import TrainSpec


def prepare(spec: TrainSpec) -> Path:
    """Write (or finish) the prepared copy of the composed train config's dataset, at
    the size its model's crop needs; say where it is and how to train from it."""
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
        f"prepared: {folder} ({size / 2**20:,.0f} MiB). Train from it with the same options "
        "and data.prepared.use=true; from a copy of it elsewhere with data.prepared.uri=<its URL>"
    )
    return folder
