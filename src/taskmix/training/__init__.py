"""Fine-tuning causal language models on a built mixture (``taskmix train``).

Public API: :class:`TrainConfig`, :func:`train`, :class:`TrainResult` (the mixture's
records are :class:`taskmix.records.TrainingExample`). Importing this package does not
import torch.
"""

from .config import TrainConfig, lr_at
from .loop import TrainResult, train

__all__ = ["TrainConfig", "lr_at", "train", "TrainResult"]
