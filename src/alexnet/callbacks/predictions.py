"""Validation images with their predicted and true labels, and the confusion matrix."""

import lightning as L
import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from alexnet.callbacks.figures import is_chosen_epoch, save_figure
from alexnet.data.loading.sampling import IGNORE


class ValidationPredictions(L.Callback):
    """At the end of chosen epochs, saves ``val_predictions`` (the first ``num_images``
    validation images titled "predicted / true", green when right, red when wrong) and
    ``confusion_matrix`` over the whole validation split.

    Args:
        every_n_epochs: draw every N epochs; 0 draws after the last epoch only.
        num_images: images in the panel.
    """

    def __init__(self, every_n_epochs: int = 0, num_images: int = 16):
        self.every_n_epochs, self.num_images = every_n_epochs, num_images
        self.confusion: MulticlassConfusionMatrix | None = None
        self.shown: list[tuple[torch.Tensor, int, int]] = []

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        num_classes = pl_module.hparams.num_classes
        self.confusion = MulticlassConfusionMatrix(num_classes, ignore_index=IGNORE).to(
            pl_module.device
        )
        self.shown = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *_) -> None:
        if trainer.sanity_checking or outputs is None:
            return
        images, targets = batch
        predicted = outputs["logits"].argmax(dim=-1)
        self.confusion.update(predicted, targets)
        for image, pred, true in zip(images, predicted, targets, strict=True):
            if len(self.shown) < self.num_images and true != IGNORE:
                view = image[0] if image.ndim == 4 else image  # several views: the first
                self.shown.append((view.detach().float().cpu(), int(pred), int(true)))

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not is_chosen_epoch(trainer, self.every_n_epochs):
            return
        matrix = self.confusion.compute()  # on every rank: it gathers across processes
        if not trainer.is_global_zero or not self.shown:
            return
        names = pl_module.hparams.get("class_names") or [
            str(i) for i in range(pl_module.hparams.num_classes)
        ]
        save_figure(trainer, "val_predictions", self._panel(names))
        fig, _ = self.confusion.plot(
            matrix, labels=names if len(names) <= 30 else None, add_text=len(names) <= 20
        )
        size = min(4 + 0.3 * len(names), 30)
        fig.set_size_inches(size, size)
        save_figure(trainer, "confusion_matrix", fig)

    def _panel(self, names: list[str]):
        import matplotlib.pyplot as plt

        columns = min(8, len(self.shown))
        rows = -(-len(self.shown) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.3 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, (image, pred, true) in zip(axes.flat, self.shown, strict=False):
            low, high = image.min(), image.max()
            picture = ((image - low) / (high - low + 1e-8)).permute(1, 2, 0).squeeze(-1)
            ax.imshow(picture.numpy(), cmap="gray" if picture.ndim == 2 else None)
            ax.set_title(
                f"{names[pred]} / {names[true]}",
                fontsize=8,
                color="green" if pred == true else "red",
            )
        fig.suptitle("predicted / true")
        return fig
