"""taskmix: symbol tuning and instruction-only task selection for language models.

Importing ``taskmix`` is cheap: it does not import torch, transformers or datasets.
Stages import what they need when they run.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConfigError, DataError, TaskmixError
from .records import (
    Example,
    GenerateRequest,
    LoglikelihoodRequest,
    LoglikelihoodResult,
    Prompt,
    Score,
    Split,
    Task,
)

__all__ = [
    "__version__",
    "ConfigError",
    "DataError",
    "TaskmixError",
    "Example",
    "GenerateRequest",
    "LoglikelihoodRequest",
    "LoglikelihoodResult",
    "Prompt",
    "Score",
    "Split",
    "Task",
]
