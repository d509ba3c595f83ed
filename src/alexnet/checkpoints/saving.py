"""Writing the record into every checkpoint a training run saves."""

from typing import Any

import lightning as L

from alexnet.checkpoints.record import FORMAT, SECTION, Preprocessing, Record, versions
from alexnet.spec import Parts


class SaveRecord(L.Callback):
    """Writes the record into every checkpoint: the spec's parts, the data's
    preprocessing, class names and fingerprint, what trained the model (``training``),
    the trial's ``study``, the versions."""

    def __init__(self, parts: Parts, training: dict[str, Any], study: dict[str, Any] | None):
        self.parts, self.training, self.study = parts, training, study

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        datamodule = trainer.datamodule
        checkpoint[SECTION] = Record(
            format=FORMAT,
            model=self.parts.model.model_dump(include={"name", "kwargs"}),
            data=self.parts.data,
            preprocessing=Preprocessing(**datamodule.preprocessing()),
            class_names=list(datamodule.class_names),
            versions=versions(),
            training=self.training,
            fingerprint=datamodule.fingerprint(),
            study=self.study,
        ).model_dump()
