"""The ``taskmix`` command line.

Each sub-command lives in its own module under :mod:`taskmix.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (taking the parsed
arguments, returning an exit code). Modules are listed explicitly here. Errors that
come from bad input are :class:`~taskmix.errors.TaskmixError` and print one line.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import typing

from . import __version__
from .errors import TaskmixError

# Explicit registry: command-module names, in the order `taskmix --help` lists them.
COMMAND_MODULES = (
    "data",
    "tasks",
    "model",
    "symbols",
    "select",
    "build",
    "train",
    "eval",
    "compare",
    "run",
    "export",
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit 2), like every
    other error of the command line; ``--help`` still shows the usage."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="taskmix",
        description="Symbol tuning and instruction-only task selection for language models.",
    )
    parser.add_argument("--version", action="version", version=f"taskmix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module_name = f"taskmix.commands.{name}_cmd"
        if importlib.util.find_spec(module_name) is None:  # not built yet
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error (already printed in one line)
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TaskmixError as e:
        print(f"taskmix: error: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("taskmix: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except MemoryError:
        print("taskmix: error: out of memory", file=sys.stderr)
        return 1
    except OSError as e:
        if os.environ.get("TASKMIX_DEBUG"):
            raise
        target = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"taskmix: error: {target}{e.strerror or e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
