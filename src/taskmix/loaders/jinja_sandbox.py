"""Rendering untrusted promptsource Jinja in a sandbox.

Templates come from data files, so they are rendered in
:class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with no loader (no file access), no
extensions, and undefined names as errors. Any failure -- a template that reaches for
``__class__`` / ``__globals__``, tries to ``include`` / ``import`` a file, has a syntax
error or names a field the row lacks -- is a one-line :class:`TaskmixError`.

The sandbox also bounds what a template can build: repeating a string or list
(``'a' * 10**10``), powers of huge size, padding and format widths (``center``,
``indent``, ``ljust``/``rjust``/``zfill``, ``'%99999999d'``, ``'{:>99999999}'.format``) and
the rendered text are all limited to ``MAX_STRING`` characters; past it rendering stops
with a one-line error instead of exhausting memory.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Mapping

from ..errors import TaskmixError

MAX_STRING = 1_000_000  # characters (or items) a template may build; prompts are a few KB
_PERCENT_WIDTH = re.compile(r"%[-+ #0]*(\d+)(?:\.(\d+))?")
_BRACE_WIDTH = re.compile(r"\{[^{}]*?:[^{}\d]*(\d+)(?:[^{}\d]*(\d+))?[^{}]*\}")
_PADDING_METHODS = {"ljust", "rjust", "center", "zfill", "expandtabs"}


def _too_big(what: str) -> Exception:
    from jinja2.sandbox import SecurityError

    return SecurityError(f"{what} would exceed the sandbox's limit of {MAX_STRING:,} characters")


def _check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_STRING:
        raise _too_big(what)


def _check_format_string(fmt: Any, pattern: "re.Pattern[str]", what: str) -> None:
    if isinstance(fmt, str):
        for match in pattern.finditer(fmt):
            for group in match.groups():
                if group and int(group) > MAX_STRING:
                    raise _too_big(what)


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedSandbox(ImmutableSandboxedEnvironment):
        """The immutable sandbox, with every way of building a huge value bounded."""

        intercepted_binops = frozenset({"*", "**", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_STRING:
                        raise _too_big("repeating a value")
            elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
                if right * max(abs(left), 2).bit_length() > 4 * MAX_STRING:  # bits of the result
                    raise _too_big("a power")
            elif operator == "%":
                _check_format_string(left, _PERCENT_WIDTH, "a '%' format width")
            return super().call_binop(context, operator, left, right)

        def wrap_str_format(self, value: Any) -> Any:
            wrapper = super().wrap_str_format(value)
            if wrapper is None:
                return None
            _check_format_string(getattr(value, "__self__", None), _BRACE_WIDTH, "a format width")

            def bounded_format(*args: Any, **kwargs: Any) -> str:
                for a in (*args, *kwargs.values()):  # nested widths: '{0:{1}}'.format(x, 10**9)
                    _check_width(a, "a format argument")
                return wrapper(*args, **kwargs)

            return bounded_format

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (jinja's signature)
            if getattr(__obj, "__name__", "") in _PADDING_METHODS and isinstance(getattr(__obj, "__self__", None), str):
                for a in (*args, *kwargs.values()):
                    _check_width(a, f"str.{__obj.__name__}")
            return super().call(__context, __obj, *args, **kwargs)

    env = BoundedSandbox(loader=None, undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    _bound_filters(env)
    return env


def _bound_filters(env: Any) -> None:
    """Wrap the filters that pad or format so that their widths are bounded."""
    filters = env.filters

    def bounded(name: str, check: Any) -> None:
        original = filters[name]

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(*args, **kwargs)
            return original(*args, **kwargs)

        wrapper.__name__ = getattr(original, "__name__", name)
        for attr in ("jinja_pass_arg",):  # keep jinja's context/eval-context markers
            if hasattr(original, attr):
                setattr(wrapper, attr, getattr(original, attr))
        filters[name] = wrapper

    def widths(*args: Any, **kwargs: Any) -> None:
        for a in (*args, *kwargs.values()):
            _check_width(a, "a filter width")

    def format_filter(value: Any, *args: Any, **kwargs: Any) -> None:
        _check_format_string(value, _PERCENT_WIDTH, "the format filter's width")

    for name in ("center", "indent", "wordwrap", "truncate"):
        bounded(name, widths)
    bounded("format", format_filter)


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
        out = _bounded_render(template, dict(context))
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
    return out


def _bounded_render(template: Any, context: dict[str, Any]) -> str:
    """``template.render`` that stops as soon as the output passes ``MAX_STRING``
    (a loop of ``range``'s 100,000 steps could otherwise pile up gigabytes)."""
    parts, size = [], 0
    for piece in template.generate(**context):
        size += len(piece)
        if size > MAX_STRING:
            raise _too_big("the rendered text")
        parts.append(piece)
    return "".join(parts)
