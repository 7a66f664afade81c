"""The progress bar every long loop shows (fetch, scoring, generation, evaluation, training).

tqdm is imported when a bar is made, so importing this module costs nothing. A disabled
bar accepts every call (``update``, ``set_postfix``, ``close``, ``with``) and draws nothing.
"""

from __future__ import annotations

import sys
from typing import Any


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
