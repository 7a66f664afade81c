"""Fine-tuning causal language models on a built mixture (``taskmix train``).

Public API: :class:`TrainConfig`, :func:`train`, :class:`TrainResult`,
:class:`TrainingExample`. Importing this package does not import torch.
"""

from .config import TrainConfig, lr_at
from .data import TrainingExample

__all__ = ["TrainConfig", "TrainingExample", "lr_at", "train", "TrainResult"]


def __getattr__(name: str):
    if name in ("train", "TrainResult"):
        from . import loop

        return getattr(loop, name)
    raise AttributeError(name)
