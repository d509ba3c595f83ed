"""Lightning callbacks: figures of what the network learns, and training diagnostics."""

from alexnet.callbacks.diagnostics import ResponseNormDiagnostics, TrainingDiagnostics
from alexnet.callbacks.filters import Conv1Filters
from alexnet.callbacks.predictions import ValidationPredictions

__all__ = [
    "Conv1Filters",
    "ResponseNormDiagnostics",
    "TrainingDiagnostics",
    "ValidationPredictions",
]
