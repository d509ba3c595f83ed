"""OmegaConf resolvers the configs use; registered on import."""

import torch
from omegaconf import OmegaConf


def best_mixed_precision() -> str:
    """bf16-mixed on a GPU with bf16 (Ampere and newer), 16-mixed otherwise."""
    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "16-mixed"


OmegaConf.register_new_resolver("best_mixed_precision", best_mixed_precision, replace=True)
