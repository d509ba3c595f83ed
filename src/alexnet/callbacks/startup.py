"""The phases of start-up that Lightning's fit runs (its set-up, sanity validation,
the first batch, the first step), marked as they end; after the first step every phase
goes into the run's log (alexnet.startup)."""

import lightning as L

from alexnet.startup import log_phases, mark


class StartupPhases(L.Callback):
    """Marks the end of fit's set-up, of sanity validation, of reading the first batch
    and of the first step, then logs the start-up's phases."""

    def __init__(self) -> None:
        self.logged = False

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        mark("fit set-up")

    def on_sanity_check_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        mark("sanity validation")

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if not self.logged:
            mark("first batch")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.logged:
            mark("first step")
            log_phases()
            self.logged = True
