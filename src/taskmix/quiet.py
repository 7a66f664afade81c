"""What the libraries under taskmix print: governed by taskmix's own progress setting.

``--no-progress`` (or ``progress: false``) means no progress bars at all, including the
ones transformers and huggingface_hub draw while loading or saving a model;
a deprecation warning that only the libraries can act on (peft reading transformers'
``is_gradient_checkpointing``) is never shown.
"""

from __future__ import annotations

import importlib
import warnings

# (module, function) pairs that turn off a library's progress bars
_BAR_SWITCHES = (
    ("transformers.utils.logging", "disable_progress_bar"),
    ("huggingface_hub.utils", "disable_progress_bars"),
)


def quiet_libraries(progress: bool) -> None:
    """Hide library warnings meant for library authors; with ``progress=False`` also
    every library progress bar (process-wide)."""
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
    if progress:
        return
    for module, function in _BAR_SWITCHES:
        try:
            getattr(importlib.import_module(module), function)()
        except (ImportError, AttributeError):
            continue
