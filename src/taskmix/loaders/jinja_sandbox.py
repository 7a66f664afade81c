"""Rendering untrusted promptsource Jinja in a sandbox.

Templates come from data files, so they are rendered in
:class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with no loader (no file access), no
extensions, and undefined names as errors. Any failure -- a template that reaches for
``__class__`` / ``__globals__``, tries to ``include`` / ``import`` a file, has a syntax
error or names a field the row lacks -- is a one-line :class:`TaskmixError`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from ..errors import TaskmixError


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(loader=None, undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    return env


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    import jinja2

    try:
        return _env().from_string(source)
    except jinja2.TemplateSyntaxError as e:
        raise TaskmixError(f"template syntax error at line {e.lineno}: {e.message}") from None
    except Exception as e:  # e.g. constant folding of 2**99999 fails while compiling
        raise TaskmixError(f"template cannot be compiled: {type(e).__name__}: {e}") from None


def render(source: str, context: Mapping[str, Any], where: str = "template") -> str:
    """Render Jinja ``source`` with ``context`` in the sandbox; any failure is a :class:`TaskmixError`."""
    import jinja2
    from jinja2.sandbox import SecurityError

    try:
        template = _compile(source)
    except TaskmixError as e:
        raise TaskmixError(f"{where}: {e.message}") from None
    try:
        return template.render(**dict(context))
    except SecurityError as e:
        raise TaskmixError(f"{where}: unsafe template rejected by the sandbox: {e}") from None
    except jinja2.UndefinedError as e:
        raise TaskmixError(f"{where}: {e.message}") from None
    except TypeError as e:  # e.g. {% include %} with no loader: the sandbox has no file access
        raise TaskmixError(f"{where}: template cannot be rendered (no file access in the sandbox): {e}") from None
    except jinja2.TemplateError as e:
        raise TaskmixError(f"{where}: template error: {e.message or e}") from None
    except Exception as e:  # ValueError, OverflowError (range > MAX_RANGE), AssertionError in filters, ...
        raise TaskmixError(f"{where}: template failed on this row: {type(e).__name__}: {e}") from None
