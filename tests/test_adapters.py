"""The private parts of other libraries the project uses (alexnet/adapters/) and the
public ones it chose instead of private ones, each against the installed library: a
change underneath fails here, not in a run."""

import csv
import logging
import signal

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from alexnet.adapters.lightning import unlogged_row
from alexnet.callbacks.progress import NetSummary
from alexnet.data.loading.sampling import KeyedSamples, ResumableLoader, ShardSampler
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


class Stateful(Tiny):
    """Trained from a stateful loader of this project (the public route to resume
    mid-epoch), whose samples are their own indices."""

    def train_dataloader(self):
        data = TensorDataset(torch.arange(12.0).view(12, 1).expand(12, 4), torch.zeros(12).long())
        sampler = ShardSampler(12, shuffle=True, seed=3)
        return ResumableLoader(KeyedSamples(data, 3, training=True), batch_size=4, sampler=sampler)


class EarlyLoader(Stateful):
    """Asks for the training's length while making its optimizer, as ours does for a
    schedule stepped every batch: Lightning then makes the loader before it reads the
    checkpoint it resumes from."""

    def configure_optimizers(self):
        assert self.trainer.estimated_stepping_batches > 0
        return super().configure_optimizers()


class Record(L.Callback):
    """The samples of each batch as it starts; with ``save_at``, a checkpoint after that
    many batches of the first epoch."""

    def __init__(self, save_at: int | None = None, path: str = "") -> None:
        self.seen: list[tuple[str, list[int]]] = []
        self.save_at, self.path = save_at, path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append((f"batch {batch_idx}", batch[0][:, 0].int().tolist()))

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


def test_a_stateful_loader_is_saved_and_restored_mid_epoch(tmp_path):
    """Lightning saves the training loader's state in a checkpoint without fetching a
    batch ahead (the loader's length is known) and gives it back on resume: the
    resumed run trains on the rest of the epoch, then on the next, as one that ran
    through."""
    path = str(tmp_path / "mid.ckpt")
    whole = Record()
    trainer(tmp_path, whole).fit(Stateful())
    first = Record(save_at=2, path=path)
    trainer(tmp_path, first, epochs=1).fit(Stateful())
    assert torch.load(path, weights_only=True)["loops"]["fit_loop"]["state_dict"][
        "combined_loader"
    ] == [{"epoch": 0, "batches": 2}]
    resumed = Record()
    trainer(tmp_path, resumed).fit(Stateful(), ckpt_path=path, weights_only=True)
    assert resumed.seen == whole.seen[2:]


def test_lightning_gives_no_state_to_a_loader_made_before_the_checkpoint_is_read(tmp_path):
    """Lightning issue #20550, why the DataModule keeps a copy of its training loader's
    state (alexnet.data.datasets.base): if this fails, Lightning restores such a loader
    itself and the copy can go."""
    path = str(tmp_path / "mid.ckpt")
    trainer(tmp_path, Record(save_at=2, path=path), epochs=1).fit(EarlyLoader())
    resumed = Record()
    trainer(tmp_path, resumed).fit(EarlyLoader(), ckpt_path=path, weights_only=True)
    whole = Record()
    trainer(tmp_path, whole).fit(EarlyLoader())
    assert resumed.seen[0] == ("batch 2", whole.seen[0][1])  # batch 2 of the epoch: batch 0's


class LogsLoss(Tiny):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("loss", loss, on_step=True, on_epoch=True)
        return loss


class UnloggedRows(L.Callback):
    """``unlogged_row`` in the hooks where checkpoints are saved."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.rows.append(unlogged_row(trainer))

    def on_train_epoch_end(self, trainer, pl_module):
        self.rows.append(unlogged_row(trainer))


def test_a_row_is_known_before_lightning_logs_it(tmp_path):
    """What ``unlogged_row`` reads from Lightning's logger connector in the checkpoint
    hooks is each row Lightning's CSV logger then writes, in order."""
    rows = UnloggedRows()
    L.Trainer(
        max_epochs=2,
        callbacks=[rows],
        logger=CSVLogger(tmp_path, name="", version=""),
        log_every_n_steps=1,
        default_root_dir=tmp_path,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    ).fit(LogsLoss())
    with open(tmp_path / "metrics.csv", newline="") as f:
        written = [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(f)]
    assert len(written) == 8  # 3 batches and the epoch, twice
    assert [{k: float(v) for k, v in row.items()} for row in rows.rows if row] == written


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
