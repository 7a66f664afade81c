"""Command-line flags made from config dataclasses.

A config field's documentation and default are written once, in its dataclass (see
:func:`taskmix.config.field_docs`); :func:`add_config_flags` turns fields into flags
whose help text is that documentation plus the default. A flag's value is ``None`` when
it is not given, so the config (its default, or a YAML file) decides. Flag spellings:

* ``--<field-name>`` (underscores as dashes), or the name given in ``rename``;
* a ``bool`` field that defaults to false: ``--<name>`` turns it on; one that defaults
  to true: ``--no-<name>`` turns it off;
* a tuple of strings or integers: one comma-separated value (``--tasks a,b``, ``--seeds 0,1``);
* ``dtype``: any spelling the configs accept (``fp32``/``float32``, ``bf16``/``bfloat16``, ``auto``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from ..config import DTYPE_SPELLINGS, field_docs


def csv_list(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ``("a", "b", "c")`` (an empty or all-comma text gives ``()``)."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def csv_ints(text: str) -> tuple[int, ...]:
    """``"0,1, 2"`` -> ``(0, 1, 2)``; anything else (an empty list too) is a usage error."""
    try:
        values = tuple(int(t) for t in csv_list(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer, got an empty list")
    return values


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _base_type(tp: Any) -> Any:
    """``X`` for ``X | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def add_config_flags(
    parser: Any,
    cls: type,
    *names: str,
    rename: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> None:
    """Add a flag for each field ``names`` of config dataclass ``cls`` to ``parser`` (a
    parser or an argument group). ``rename`` gives other flag spellings (``{"max_steps":
    "--steps"}``); ``defaults`` the default a command uses instead of the config's (shown
    in the help; the command applies it)."""
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    rename = rename or {}
    defaults = defaults or {}
    for name in names:
        if name not in fields:
            raise KeyError(f"{cls.__name__} has no field {name!r}")
        doc = docs.get(name, "")
        default = defaults.get(name, _default(fields[name]))
        tp = _base_type(hints[name])
        flag = rename.get(name, "--" + name.replace("_", "-"))
        if tp is bool:
            if default:
                flag = rename.get(name, "--no-" + name.replace("_", "-"))
                parser.add_argument(flag, dest=name, action="store_false", default=None,
                                    help=_escape(f"{doc} (on by default; {flag} turns it off)"))
            else:
                parser.add_argument(flag, dest=name, action="store_true", default=None, help=_escape(doc))
            continue
        kwargs: dict[str, Any] = {"dest": name, "default": None}
        if name == "dtype":
            kwargs["choices"] = tuple(DTYPE_SPELLINGS)
        elif typing.get_origin(tp) is typing.Literal:
            kwargs["choices"] = typing.get_args(tp)
        elif typing.get_origin(tp) in (tuple, list):
            ints = typing.get_args(tp)[:1] == (int,)
            kwargs["type"] = csv_ints if ints else csv_list
            kwargs["metavar"] = "N,M" if ints else "A,B"
        elif tp in (int, float, str):
            kwargs["type"] = tp
        if default not in (None, "", ()):
            shown = ",".join(map(str, default)) if isinstance(default, (tuple, list)) else default
            doc = f"{doc} (default: {shown})"
        parser.add_argument(flag, help=_escape(doc), **kwargs)


def _escape(text: str) -> str:
    return text.replace("``", "").replace("%", "%%")  # no reST quoting; argparse %-formats help


def given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The flags among ``names`` that were given (not ``None``), as config data (tuples
    as lists, as YAML would hold them)."""
    out = {}
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out
