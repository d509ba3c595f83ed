"""How images become batches: the epoch order, splits, transforms, the preset and
statistics of a folder, batches prepared on the training device."""
