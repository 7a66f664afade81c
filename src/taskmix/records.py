"""Typed, frozen records that cross every stage boundary.

load -> :class:`Task` / :class:`Example`; compose -> :class:`ComposedPrompt` (made of
:class:`Segment` spans) -> :class:`Prompt` (evaluation) or a training example (tuning);
evaluate -> :class:`LoglikelihoodRequest` / :class:`GenerateRequest` ->
:class:`LoglikelihoodResult`; report -> :class:`Score`; build a tuning mixture ->
:class:`TrainingExample` (one line of a mixture's ``prompts.jsonl``) -> train.

Records hold tuples, never lists or dicts, so they are hashable and cannot be mutated
by a later stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .errors import DataError

SPLITS = ("train", "validation", "test")
PROMPTS_FILE = "prompts.jsonl"  # a mixture folder's training prompts, one TrainingExample per line


@dataclass(frozen=True)
class Example:
    """One labelled instance of a task.

    ``fields`` holds the input texts in the task's field order, e.g.
    ``(("premise", "..."), ("hypothesis", "..."))``. Classification examples set
    ``label`` (an index into :attr:`Task.label_space`); free-form examples set ``target``.
    """

    uid: str
    fields: tuple[tuple[str, str], ...]
    label: int | None = None
    target: str | None = None

    def get(self, name: str) -> str:
        for key, value in self.fields:
            if key == name:
                return value
        raise KeyError(name)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(value for _, value in self.fields)


@dataclass(frozen=True)
class Split:
    name: str
    examples: tuple[Example, ...]

    def __len__(self) -> int:
        return len(self.examples)


@dataclass(frozen=True)
class Provenance:
    """Where a source file comes from: an upstream URL (or registry member) and its sha256."""

    path: str  # relative path in the mirror / cache layout
    sha256: str
    url: str
    license: str = ""


@dataclass(frozen=True)
class Task:
    """A named task: its instructions, input fields, label space and splits.

    ``label_space`` is the tuple of natural-language label words for classification
    tasks (index = ``Example.label``) and ``None`` for free-form tasks, whose examples
    carry ``target`` strings.
    """

    name: str
    source: str
    instructions: tuple[str, ...]
    input_fields: tuple[str, ...]
    label_space: tuple[str, ...] | None
    splits: tuple[Split, ...]
    category: str | None = None
    source_dataset: str | None = None
    license: str | None = None
    provenance: tuple[Provenance, ...] = ()
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def is_classification(self) -> bool:
        return self.label_space is not None

    @property
    def instruction(self) -> str:
        """The task's primary instruction (the first one), or ``""`` if it has none."""
        return self.instructions[0] if self.instructions else ""

    @property
    def split_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.splits)

    def split(self, name: str) -> tuple[Example, ...]:
        for s in self.splits:
            if s.name == name:
                return s.examples
        raise KeyError(f"task {self.name!r} has no split {name!r} (has: {', '.join(self.split_names)})")

    def has_split(self, name: str) -> bool:
        return any(s.name == name for s in self.splits)

    def iter_examples(self) -> Iterator[Example]:
        for s in self.splits:
            yield from s.examples

    def meta(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.metadata:
            if k == key:
                return v
        return default


@dataclass(frozen=True)
class Prompt:
    """A fully rendered prompt for one evaluated (or training) example.

    ``text`` is the whole context. ``prefix`` is the part of ``text`` shared with other
    prompts (the demonstration block, possibly with an instruction) and is always a
    prefix of ``text``; backends may use it for key/value-cache sharing. For
    classification ``candidates`` are the continuations (label words or symbols, with
    their leading space) and ``answer`` is the gold index; for free-form tasks
    ``candidates`` is empty and ``target`` is the gold string.
    """

    task: str
    example_uid: str
    setting: str
    text: str
    candidates: tuple[str, ...] = ()
    answer: int | None = None
    target: str | None = None
    prefix: str = ""
    format_name: str = ""
    exemplar_uids: tuple[str, ...] = ()
    label_map: tuple[tuple[str, str], ...] = ()  # natural label -> shown label (symbol or word)
    dropped_exemplars: int = 0
    seed: int = 0
    demo_set: str = ""  # id of the demonstration set (queries sharing it are one cluster)


#: Kinds of :class:`Segment`, in the order they can appear in a prompt.
SEGMENT_KINDS = ("instruction", "exemplar_input", "exemplar_label", "query_input", "answer")


@dataclass(frozen=True)
class Segment:
    """A character span ``text[start:end]`` of a composed prompt and what it holds.

    kind: one of :data:`SEGMENT_KINDS`. ``exemplar_label`` spans hold the label as it is
        continued after the output prefix, leading space included (``" positive"``); the
        ``answer`` span is empty and sits at the end of the prompt, where the query's label
        would follow.
    label_class: for ``exemplar_label`` and ``answer``, the class index (into the task's
        label space) of that example; ``None`` for free-form tasks and other kinds.
    inferable: for ``exemplar_label``, whether an exemplar of the same class appears
        earlier in the prompt, so that the context fully determines this label; the first
        appearance of each class is never inferable.
    """

    kind: str
    start: int
    end: int
    label_class: int | None = None
    inferable: bool = False


@dataclass(frozen=True)
class ComposedPrompt:
    """A query written with its demonstration set, as made by :mod:`taskmix.prompts.compose`.

    ``text`` ends where the query's label would follow; ``text[:prefix_end]`` is the
    demonstration block (instruction and exemplars), shared by every query of the same
    ``demo_set``. ``shown_labels[c]`` is the label shown for class ``c`` (a symbol, the
    natural word, or the other word when flipped); empty for free-form tasks.
    ``dropped_exemplars`` counts exemplars left out to fit a length budget.
    """

    text: str
    segments: tuple[Segment, ...]
    prefix_end: int
    demo_set: str
    query_uid: str
    format_name: str
    exemplar_uids: tuple[str, ...]
    shown_labels: tuple[str, ...]
    dropped_exemplars: int = 0

    @property
    def prefix(self) -> str:
        return self.text[: self.prefix_end]


@dataclass(frozen=True)
class SkippedQuery:
    """A query left out because its prompt cannot fit the length budget (counted, reported)."""

    task: str
    setting: str
    example_uid: str
    reason: str


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Score ``log p(continuation | context)`` under the model."""

    context: str
    continuation: str


@dataclass(frozen=True)
class LoglikelihoodResult:
    logprob: float  # sum of token log-probabilities of the continuation
    n_tokens: int  # number of continuation tokens
    is_greedy: bool  # every continuation token is the argmax


@dataclass(frozen=True)
class GenerateRequest:
    """Greedy generation from ``context`` until a stop string or ``max_new_tokens``."""

    context: str
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ("\n",)


@dataclass(frozen=True)
class Score:
    """Accuracy of one (task, setting) with a 95% interval."""

    task: str
    setting: str
    n: int
    correct: int
    accuracy: float
    ci_low: float
    ci_high: float
    extra: tuple[tuple[str, str], ...] = field(default=())


@dataclass(frozen=True)
class TrainingExample:
    """One training prompt: the model reads ``prompt`` and learns to emit ``target``.

    ``kind`` is ``symbol`` (labels remapped to symbols, no instruction), ``instruction``
    (natural labels with the instruction) or ``flipped`` (a two-class task's natural labels
    swapped, no instruction); ``format_name`` names the input/label format.
    ``segments`` are the composer's spans of ``prompt`` (instruction, each exemplar's input
    and label with its class and whether it is inferable, query, answer slot); empty for
    mixtures built before they were recorded. On disk (``prompts.jsonl``) they are a list of
    ``{"kind", "start", "end", "class", "inferable"}`` objects under ``"segments"``.
    """

    prompt: str
    target: str
    task: str
    uid: str = ""
    kind: str = "symbol"
    format_name: str = ""
    n_exemplars: int = 0
    segments: tuple[Segment, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "task": self.task,
            "kind": self.kind,
            "format": self.format_name,
            "n_exemplars": self.n_exemplars,
            "prompt": self.prompt,
            "target": self.target,
            "segments": [{"kind": s.kind, "start": s.start, "end": s.end, "class": s.label_class,
                          "inferable": s.inferable} for s in self.segments],
        }

    @classmethod
    def from_json(cls, obj: Any, path: Path | str = "?", line: int | None = None) -> "TrainingExample":
        if not isinstance(obj, dict):
            raise DataError(path, "expected a JSON object", line)
        for key in ("prompt", "target", "task"):
            if not isinstance(obj.get(key), str):
                raise DataError(path, f"missing or non-string field {key!r}", line)
        if not obj["target"]:
            raise DataError(path, "empty target", line)
        return cls(
            prompt=obj["prompt"],
            target=obj["target"],
            task=obj["task"],
            uid=str(obj.get("uid", "")),
            kind=str(obj.get("kind", "symbol")),
            format_name=str(obj.get("format", "")),
            n_exemplars=int(obj.get("n_exemplars", 0) or 0),
            segments=_segments(obj.get("segments", []), obj["prompt"], path, line),
        )


def _segments(raw: Any, prompt: str, path: Path | str, line: int | None) -> tuple[Segment, ...]:
    """The ``segments`` of a record, checked: known kinds, integer spans inside the prompt,
    in order and not overlapping."""
    if not isinstance(raw, list):
        raise DataError(path, "'segments' must be a list", line)
    out: list[Segment] = []
    end = 0
    for item in raw:
        if not isinstance(item, dict) or item.get("kind") not in SEGMENT_KINDS:
            raise DataError(path, f"a segment must be an object with a kind in {', '.join(SEGMENT_KINDS)}", line)
        start, stop, cls = item.get("start"), item.get("end"), item.get("class")
        if not (type(start) is int and type(stop) is int and 0 <= start <= stop <= len(prompt)):
            raise DataError(path, f"segment span [{start}, {stop}] falls outside the prompt", line)
        if start < end:
            raise DataError(path, f"segment [{start}, {stop}] overlaps the one before", line)
        if cls is not None and type(cls) is not int:
            raise DataError(path, "a segment's class must be an integer or null", line)
        out.append(Segment(item["kind"], start, stop, cls, bool(item.get("inferable", False))))
        end = stop
    return tuple(out)
