"""promptsource templates: the ``templates.yaml`` records, their safe parsing and rendering.

A ``templates.yaml`` is read with :class:`TemplateLoader`, a ``yaml.SafeLoader`` that knows
only the ``!Template`` and ``!TemplateMetadata`` tags (never the full loader);
:func:`template_instruction` turns a template into an instruction string (INSTA's P3
pool) and :func:`render_template` renders one on a data row, with Jinja in a sandbox
(:mod:`taskmix.loaders.jinja_sandbox`). Which datasets exist and how their examples are
made is :mod:`taskmix.loaders.promptsource`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import DataError, TaskmixError
from .jinja_sandbox import render


@dataclass(frozen=True)
class TemplateMetadata:
    original_task: bool = False
    choices_in_prompt: bool = False
    metrics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class PromptTemplate:
    """One promptsource template: Jinja ``prompt ||| answer`` and optional answer choices."""

    id: str
    name: str
    jinja: str
    answer_choices: str | None = None
    reference: str = ""
    metadata: TemplateMetadata = TemplateMetadata()

    @property
    def fixed_choices(self) -> tuple[str, ...] | None:
        """The answer choices when they are plain text (no Jinja), else ``None``."""
        if not self.answer_choices or "{" in self.answer_choices:
            return None
        return tuple(c.strip() for c in self.answer_choices.split("|||"))


@dataclass(frozen=True)
class TemplateCollection:
    """All templates of one promptsource dataset (and subset)."""

    dataset: str
    subset: str | None
    templates: tuple[PromptTemplate, ...]

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.subset}" if self.subset else self.dataset


class TemplateLoader(yaml.SafeLoader):
    """A safe YAML loader that also builds promptsource's ``!Template`` objects."""


def _construct_metadata(loader: yaml.SafeLoader, node: yaml.Node) -> TemplateMetadata:
    m = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return TemplateMetadata(
        original_task=bool(m.get("original_task")),
        choices_in_prompt=bool(m.get("choices_in_prompt")),
        metrics=tuple(str(x) for x in m.get("metrics") or ()),
        languages=tuple(str(x) for x in m.get("languages") or ()),
    )


def _construct_template(loader: yaml.SafeLoader, node: yaml.Node) -> PromptTemplate:
    m = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if not isinstance(m.get("jinja"), str):
        raise yaml.constructor.ConstructorError(None, None, "template without a 'jinja' string", node.start_mark)
    meta = m.get("metadata")
    return PromptTemplate(
        id=str(m.get("id", "")),
        name=str(m.get("name", "")),
        jinja=m["jinja"],
        answer_choices=None if m.get("answer_choices") is None else str(m["answer_choices"]),
        reference=str(m.get("reference") or ""),
        metadata=meta if isinstance(meta, TemplateMetadata) else TemplateMetadata(),
    )


TemplateLoader.add_constructor("!Template", _construct_template)
TemplateLoader.add_constructor("!TemplateMetadata", _construct_metadata)


def parse_templates(text: str, path: str | Path = "<templates.yaml>") -> TemplateCollection:
    """Parse a promptsource ``templates.yaml`` safely; malformed input is a :class:`DataError`."""
    try:
        data = yaml.load(text, Loader=TemplateLoader)  # noqa: S506 - TemplateLoader is a SafeLoader
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise DataError(path, f"invalid templates YAML: {e.problem or e}", line=line) from None
    except (yaml.YAMLError, RecursionError) as e:  # RecursionError: nesting deeper than Python's stack
        raise DataError(path, f"invalid templates YAML: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict) or "dataset" not in data:
        raise DataError(path, "expected 'dataset' and a 'templates' mapping")
    templates = []
    for key, t in data["templates"].items():
        if not isinstance(t, PromptTemplate):
            raise DataError(path, f"template {key!r} is not a !Template")
        templates.append(t)
    subset = data.get("subset")
    return TemplateCollection(str(data["dataset"]), str(subset) if subset else None, tuple(templates))


_EXPR = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_STMT = re.compile(r"\{%-?.*?-?%\}", re.S)
_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_STRING = re.compile(r"""^(["'])(.*)\1$""", re.S)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def template_instruction(template: PromptTemplate) -> str:
    """An instruction string from a template: fields become ``[field]``, literals and choices stay.

    Only the prompt side (before ``|||``) is used. ``{{"positive"}}`` becomes ``positive``;
    a reference to ``answer_choices`` becomes the choices joined by `` or ``; any other
    expression becomes ``[name]`` for its first variable name; ``{% ... %}`` statements
    and comments are dropped. Fixed answer choices not already in the text are appended
    as ``Options: a, b``.
    """
    prompt = template.jinja.split("|||")[0]
    choices = template.fixed_choices
    prompt = _COMMENT.sub(" ", prompt)

    def expr(m: re.Match[str]) -> str:
        body = m.group(1).strip()
        lit = _STRING.match(body)
        if lit:
            return lit.group(2)
        if "answer_choices" in body:
            return " or ".join(choices) if choices else "[answer choices]"
        name = _NAME.search(body)
        return f"[{name.group(0)}]" if name else ""

    prompt = _EXPR.sub(expr, prompt)
    prompt = _STMT.sub(" ", prompt)
    text = " ".join(prompt.split())
    if choices and not all(c.lower() in text.lower() for c in choices):
        text = f"{text} Options: {', '.join(choices)}".strip()
    return text


def render_template(template: PromptTemplate, row: dict[str, Any]) -> tuple[str, str]:
    """Render ``template`` on a promptsource-style ``row``: ``(prompt, answer)``, sandboxed."""
    where = f"template {template.name!r}"
    context = dict(row)
    if template.answer_choices:
        rendered = render(template.answer_choices, row, where)
        context["answer_choices"] = [c.strip() for c in rendered.split("|||")]
    out = render(template.jinja, context, where)
    if "|||" not in out:
        raise TaskmixError(f"{where}: rendered text has no '|||' answer separator")
    prompt, answer = out.split("|||", 1)
    return prompt.strip(), answer.strip()
