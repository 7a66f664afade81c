"""The one exception type users see.

Every error that comes from bad input (a wrong path, a malformed file, an impossible
setting) is raised as :class:`TaskmixError` with a single-line message. The command line
prints ``taskmix: error: <message>`` and exits non-zero; it never shows a traceback for
these. Anything else escaping is a bug in taskmix.
"""

from __future__ import annotations

from pathlib import Path


#: The longest message an error keeps; the rest is cut (a quoted value can be huge).
MAX_MESSAGE = 2000


class TaskmixError(Exception):
    """A user-facing error with a one-line message (at most :data:`MAX_MESSAGE` characters)."""

    exit_code = 2

    def __init__(self, message: str):
        message = " ".join(str(message).split())  # always one line
        if len(message) > MAX_MESSAGE:
            message = f"{message[:MAX_MESSAGE]}... ({len(message) - MAX_MESSAGE:,} more characters)"
        super().__init__(message)
        self.message = message


class DataError(TaskmixError):
    """A data file that cannot be read: names the file and, where it applies, the line."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


class ConfigError(TaskmixError):
    """An invalid configuration value or file."""
