"""Configs are dataclasses; YAML files hold values only.

Every config class documents its fields in the class docstring and validates itself in
``__post_init__`` (raising :class:`~taskmix.errors.ConfigError`). :func:`from_dict` builds
a (possibly nested) config from plain data and rejects unknown keys by name;
:func:`load_yaml` reads a YAML file safely (``yaml.safe_load``) and does the same.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import reprlib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T")

#: Every spelling of a dtype a config accepts, and the one it is stored as (``auto``: the faster
#: of bf16 and fp32 on the machine that runs it, see :mod:`taskmix.models.precision`).
DTYPE_SPELLINGS = {"fp32": "fp32", "float32": "fp32", "bf16": "bf16", "bfloat16": "bf16", "auto": "auto"}
#: A YAML file whose aliases expand to more values than this is refused ("billion laughs").
MAX_YAML_VALUES = 100_000

#: Field metadata key: the value of a field added after runs were made at which it reproduces
#: the behaviour from before it existed (see :func:`key_dict`).
KEY_NEUTRAL = "key_neutral"

_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 80
_SHOW.maxlist = _SHOW.maxtuple = _SHOW.maxdict = _SHOW.maxset = 6
_SHOW.maxlevel = 3


def show(value: Any) -> str:
    """A short ``repr`` of a value for an error message (long strings and deep or large
    structures are abbreviated without building their whole ``repr``)."""
    return _SHOW.repr(value)


def canonical_dtype(value: Any, where: str) -> str:
    """``fp32``, ``bf16`` or ``auto`` for any accepted spelling (``float32``, ``bfloat16``, any case)."""
    spelled = DTYPE_SPELLINGS.get(value.strip().lower()) if isinstance(value, str) else None
    if spelled is None:
        raise ConfigError(f"{where}: dtype must be fp32 (or float32), bf16 (or bfloat16) or auto, got {show(value)}")
    return spelled


def field_docs(cls: type) -> dict[str, str]:
    """Each field's documentation, read from the class docstring, the one place it is
    written: a line ``name: text`` (or ``name_a, name_b: text`` for several fields),
    continued by the lines indented deeper than it."""
    names = {f.name for f in dataclasses.fields(cls)}
    docs: dict[str, str] = {}
    current: list[str] = []
    indent = -1
    for line in inspect.cleandoc(cls.__doc__ or "").splitlines():
        depth = len(line) - len(line.lstrip())
        m = re.match(r"\s*([a-z_][a-z0-9_]*(?:\s*,\s*[a-z_][a-z0-9_]*)*):\s+(\S.*)$", line)
        keys = [k.strip() for k in m.group(1).split(",")] if m else []
        if keys and all(k in names for k in keys):
            current, indent = keys, depth
            for k in keys:
                docs[k] = m.group(2).strip()
        elif current and line.strip() and depth > indent:
            for k in current:
                docs[k] += " " + line.strip()
        else:
            current, indent = [], -1
    return docs


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError as e:
                errors.append(e.message)
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {show(value)}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        return from_dict(tp, value, where=where)
    if origin in (tuple, list):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {show(value)}")
        item_tp = args[0] if args else Any
        items = [_convert(item_tp, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {show(value)}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {show(value)}")
        return value
    if tp is float:
        if isinstance(value, str):  # PyYAML reads "1e-3" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{where}: expected a number, got {show(value)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {show(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {show(value)}")
        return value
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: must be one of {', '.join(map(repr, args))}, got {show(value)}")
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are errors naming the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields), key=str)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {show(unknown[0])} (known keys: {', '.join(sorted(fields))})"
        )
    missing = [name for name, f in fields.items() if name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required field is missing
        raise ConfigError(f"{where}: {e}") from None


def to_dict(config: Any) -> dict[str, Any]:
    """Plain data (lists, dicts, scalars) for a config dataclass, suitable for YAML/JSON."""
    return _plain(config, for_key=False)


def _plain(v: Any, for_key: bool) -> Any:
    if dataclasses.is_dataclass(v):
        return {f.name: _plain(getattr(v, f.name), for_key) for f in dataclasses.fields(v)
                if not (for_key and KEY_NEUTRAL in f.metadata and getattr(v, f.name) == f.metadata[KEY_NEUTRAL])}
    if isinstance(v, (list, tuple)):
        return [_plain(x, for_key) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x, for_key) for k, x in v.items()}
    if isinstance(v, Path):
        return str(v)
    return v


def key_dict(config: Any) -> dict[str, Any]:
    """:func:`to_dict` for a stage key: fields at their :data:`KEY_NEUTRAL` value are left out.

    A field added to a config later declares, with ``field(metadata={KEY_NEUTRAL: value})``,
    the value that does what the code did before the field existed; at that value the field
    is not part of the key, so a ``taskmix run`` folder made before it stays up to date
    instead of building and training again. Any other value is in the key as usual.
    A training folder's resume identity reads the same metadata (and keeps its own list,
    :data:`taskmix.training.config.LATER_FIELDS`, for fields that came after training folders
    but before stage keys, which stage keys have always held)."""
    return _plain(config, for_key=True)


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file with ``yaml.safe_load``; a missing or malformed file is a one-line error."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder, not a config file")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is allowed
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        _check_alias_expansion(yaml.compose(text, Loader=yaml.SafeLoader), path)
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}{line}: malformed YAML: {problem}") from None


def _check_alias_expansion(root: Any, path: Path) -> None:
    """Refuse a YAML document whose aliases expand to more than :data:`MAX_YAML_VALUES`
    values, or refer to themselves: each node is sized once, so the check costs the
    size of the file, not of the expansion."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise ConfigError(f"{path}: a YAML alias refers to itself; refused")
        active.add(key)
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_YAML_VALUES:
                raise ConfigError(f"{path}: YAML aliases expand to more than {MAX_YAML_VALUES:,} values; refused")
        active.discard(key)
        sizes[key] = total
        return total

    if root is not None:
        try:
            size(root)
        except RecursionError:
            raise ConfigError(f"{path}: YAML nested too deeply; refused") from None


def load_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping of ``what``. An empty file is an error, not
    "all defaults": it is far more often a mistake than a wish for the defaults."""
    data = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}: empty config file (expected a mapping of {what})")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {what}, got {type(data).__name__}")
    return data


def load_config(cls: type[T], path: str | Path) -> T:
    """Load and validate a YAML config file into dataclass ``cls``."""
    return from_dict(cls, load_mapping(path, f"{cls.__name__} fields"), where=str(path))
