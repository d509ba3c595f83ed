"""The datasets: a LightningDataModule each, their bases, and the registry by name."""
