"""Writing the record into every checkpoint a training run saves."""

import lightning as L

from alexnet.checkpoints.record import FORMAT, SECTION, Preprocessing, Record, versions
from alexnet.runspec.spec import Part


class SaveRecord(L.Callback):
    """Writes the record into every checkpoint: the spec's model and data parts, the
    data's preprocessing and class names, the versions."""

    def __init__(self, model: Part, data: Part):
        self.model, self.data = model, data

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        datamodule = trainer.datamodule
        checkpoint[SECTION] = Record(
            format=FORMAT,
            model=self.model,
            data=self.data,
            preprocessing=Preprocessing(**datamodule.preprocessing()),
            class_names=list(datamodule.class_names),
            versions=versions(),
        ).model_dump()
