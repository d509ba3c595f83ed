"""The private parts of other libraries the project uses (alexnet/adapters/) and the
public ones it chose instead of private ones, each against the installed library: a
change underneath fails here, not in a run."""

import logging
import signal

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from alexnet.adapters.lightning import batches_done_in_epoch
from alexnet.callbacks.progress import NetSummary
from alexnet.faults.signals import submitit_signal


class Tiny(L.LightningModule):
    """A linear net under ``net`` beside a module that is not the net."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
        self.not_the_net = nn.Linear(2, 2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        data = TensorDataset(torch.randn(12, 4), torch.randint(0, 2, (12,)))
        return DataLoader(data, batch_size=4)


class Record(L.Callback):
    """What ``batches_done_in_epoch`` says as each batch starts; with ``save_at``, a
    checkpoint after that many batches of the first epoch."""

    def __init__(self, save_at: int | None = None, path: str = "") -> None:
        self.seen: list[tuple[str, int]] = []
        self.save_at, self.path = save_at, path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append((f"batch {batch_idx}", batches_done_in_epoch(trainer)))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx + 1 == self.save_at and trainer.current_epoch == 0:
            trainer.save_checkpoint(self.path)


def trainer(tmp_path, callback: L.Callback, epochs: int = 2) -> L.Trainer:
    return L.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        default_root_dir=tmp_path,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def test_batches_done_counts_the_epoch_and_is_restored_mid_epoch(tmp_path):
    path = str(tmp_path / "mid.ckpt")
    first = Record(save_at=2, path=path)
    trainer(tmp_path, first).fit(Tiny())
    # a batch counts once it is fetched, before its hooks run; each epoch from 0
    epoch = [("batch 0", 1), ("batch 1", 2), ("batch 2", 3)]
    assert first.seen == epoch + epoch

    resumed = Record()
    trainer(tmp_path, resumed).fit(Tiny(), ckpt_path=path, weights_only=True)
    # two of the first epoch's three batches were done: restored, the loader skips them
    assert resumed.seen == [("batch 2", 3), *epoch]


def test_the_net_summary_has_the_net_rows_only(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        L.Trainer(
            max_epochs=1,
            callbacks=[NetSummary(max_depth=2)],
            default_root_dir=tmp_path,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
        ).fit(Tiny())
    table = caplog.text
    assert "net.0" in table and "net.1" in table
    assert "not_the_net" not in table
    assert "58 " in table  # the net's parameters: 4·8+8 + 8·2+2


def test_submitit_names_its_preemption_signal(monkeypatch):
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    assert submitit_signal() == signal.SIGUSR2  # submitit's default
    monkeypatch.delenv("SUBMITIT_EXECUTOR")
    assert submitit_signal() is None
