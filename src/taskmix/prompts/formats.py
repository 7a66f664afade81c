"""Input/label formats for in-context prompts.

A :class:`PromptFormat` says how one example is written: an input prefix (``"Input:"``),
an output prefix (``"Output:"``), the separator between the input and the output, and
the separator between consecutive examples. A rendered example reads::

    <input_prefix> <input text><io_sep><output_prefix> <label>

and a prompt is ``[instruction + example_sep] + exemplar (+ example_sep + exemplar)* +
example_sep + query``, where the query ends with the output prefix and *no* trailing
space: the label is scored or generated as a continuation with a leading space
(``" positive"``), see :func:`answer_continuation`.

Multi-field inputs (e.g. premise/hypothesis) are written one field per line, each
titled by its field name (``"Premise: ..."``, ``"Hypothesis: ..."``), after the input
prefix on its own line; single-field inputs are written inline after the prefix.

Public API (stable):

* :class:`PromptFormat` with :meth:`~PromptFormat.render_input`,
  :meth:`~PromptFormat.render_example`, :meth:`~PromptFormat.render_query`
* :data:`FORMATS` (tuple of formats), :data:`FORMAT_NAMES`
* :func:`get_format` ``(name) -> PromptFormat``
* :func:`choose_format` ``(rng) -> PromptFormat``
* :func:`answer_continuation` ``(label) -> str``
* :func:`join_prompt` ``(fmt, instruction, exemplars, query) -> str``
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from ..errors import TaskmixError


@dataclass(frozen=True)
class PromptFormat:
    """One way to write an input and its label.

    name: short identifier used in configs (``--format``) and in ``Prompt.format_name``.
    input_prefix: written before the input text, e.g. ``"Input:"``.
    output_prefix: written before the label, e.g. ``"Output:"``; the query ends with it.
    io_sep: between the input text and the output prefix (``"\\n"`` or ``" "``).
    example_sep: between consecutive examples and after the instruction.
    raw: write the input verbatim, without prefixes (:data:`RAW_FORMAT` only).
    """

    name: str
    input_prefix: str
    output_prefix: str
    io_sep: str = "\n"
    example_sep: str = "\n\n"
    raw: bool = False

    def render_input(self, fields: Sequence[tuple[str, str]]) -> str:
        """The input part of an example: ``"<input_prefix> text"`` or, for several fields,
        ``"<input_prefix>\\nField one: ...\\nField two: ..."``. The ``raw`` format writes
        the field texts as they are (for inputs that carry their own prompt, e.g. BIG-Bench
        ``simp_turing_concept``)."""
        if not fields:
            raise TaskmixError("an example has no input fields")
        if self.raw:
            return "\n".join(value.rstrip() for _, value in fields)
        if len(fields) == 1:
            return f"{self.input_prefix} {_clean(fields[0][1])}"
        lines = [f"{field_title(name)}: {_clean(value)}" for name, value in fields]
        return self.input_prefix + "\n" + "\n".join(lines)

    def render_query(self, fields: Sequence[tuple[str, str]]) -> str:
        """An example without its label; ends with the output prefix (no trailing space)."""
        if self.raw:
            return self.render_input(fields)
        return self.render_input(fields) + self.io_sep + self.output_prefix

    def render_example(self, fields: Sequence[tuple[str, str]], label: str) -> str:
        """A complete demonstration: the query followed by ``" " + label``."""
        return self.render_query(fields) + answer_continuation(label)


def _clean(text: str) -> str:
    """Input text with surrounding whitespace removed (inner newlines are kept)."""
    return text.strip()


def field_title(name: str) -> str:
    """A display title for an input field name: ``"premise"`` -> ``"Premise"``,
    ``"question_1"`` -> ``"Question 1"``."""
    words = name.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else "Input"


def answer_continuation(label: str) -> str:
    """The continuation scored for a label: the label with one leading space."""
    return " " + label.strip()


FORMATS: tuple[PromptFormat, ...] = (
    PromptFormat("input_output", "Input:", "Output:"),
    PromptFormat("q_a", "Q:", "A:"),
    PromptFormat("sentence_label", "Sentence:", "Label:"),
    PromptFormat("text_answer", "Text:", "Answer:"),
    PromptFormat("question_answer", "Question:", "Answer:"),
    PromptFormat("input_label", "Input:", "Label:"),
    PromptFormat("text_category", "Text:", "Category:"),
    PromptFormat("source_target", "Source:", "Target:"),
    PromptFormat("x_y", "X:", "Y:"),
    PromptFormat("example_class", "Example:", "Class:"),
    PromptFormat("student_teacher", "Student:", "Teacher:"),
    PromptFormat("input_output_inline", "Input:", "Output:", io_sep=" ", example_sep="\n"),
    PromptFormat("sentence_answer_inline", "Sentence:", "Answer:", io_sep=" ", example_sep="\n"),
    PromptFormat("inp_out_arrow", "Input:", "->", io_sep=" ", example_sep="\n\n"),
)
FORMAT_NAMES: tuple[str, ...] = tuple(f.name for f in FORMATS)
#: Inputs written verbatim (no prefixes); never drawn by ``random``.
RAW_FORMAT = PromptFormat("raw", "", "", io_sep="", example_sep="\n\n", raw=True)
_BY_NAME = {f.name: f for f in FORMATS + (RAW_FORMAT,)}
DEFAULT_FORMAT = "input_output"


def get_format(name: str) -> PromptFormat:
    """The format called ``name``; an unknown name is a one-line error listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise TaskmixError(
            f"unknown prompt format {name!r} (known: {', '.join(FORMAT_NAMES)}, raw, or random)"
        ) from None


def choose_format(rng: random.Random) -> PromptFormat:
    """One format drawn uniformly with ``rng`` (consumes exactly one draw)."""
    return FORMATS[rng.randrange(len(FORMATS))]


def join_prompt(fmt: PromptFormat, instruction: str, exemplars: Sequence[str], query: str) -> str:
    """The full prompt text: optional instruction, rendered exemplars, then the query."""
    return demonstration_block(fmt, instruction, exemplars) + query


def demonstration_block(fmt: PromptFormat, instruction: str, exemplars: Sequence[str]) -> str:
    """Instruction and exemplars, each followed by ``example_sep``: the part of a prompt
    shared between queries (``Prompt.prefix``). Empty when there is neither."""
    parts = ([instruction.strip()] if instruction and instruction.strip() else []) + list(exemplars)
    return "".join(p + fmt.example_sep for p in parts)
