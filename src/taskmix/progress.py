"""The progress bar every long loop shows (fetch, scoring, generation, evaluation, training).

tqdm is imported when a bar is made, so importing this module costs nothing. A disabled
bar accepts every call (``update``, ``set_postfix``, ``close``, ``with``) and draws nothing.

:func:`quiet_libraries` makes the libraries under taskmix follow the same setting:
``--no-progress`` (``progress: false``) means no progress bars at all, including the ones
transformers and huggingface_hub draw while loading or saving a model; a deprecation
warning that only the libraries can act on (peft reading transformers'
``is_gradient_checkpointing``) is never shown.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Any

# (module, function) pairs that turn off a library's progress bars
_BAR_SWITCHES = (
    ("transformers.utils.logging", "disable_progress_bar"),
    ("huggingface_hub.utils", "disable_progress_bars"),
)


def progress_bar(total: int, enabled: bool | None, desc: str, unit: str, *, initial: int = 0,
                 leave: bool = True) -> Any:
    """A tqdm bar on stderr counting ``total`` ``unit``s from ``initial``.

    ``enabled=None`` shows it only when stderr is a terminal. ``leave=False`` clears the
    bar when it closes (bars nested inside a longer stage).
    """
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=not enabled, leave=leave,
                dynamic_ncols=True, file=sys.stderr)


def quiet_libraries(progress: bool) -> None:
    """Hide library warnings meant for library authors; with ``progress=False`` also
    every library progress bar (process-wide)."""
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
    if progress:
        return
    for module, function in _BAR_SWITCHES:  # by name: the libraries stay lazy
        try:
            getattr(importlib.import_module(module), function)()
        except (ImportError, AttributeError):
            continue
