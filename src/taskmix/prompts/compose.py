"""The one prompt composer: evaluation prompts and tuning prompts are both made here.

A prompt is made in three steps, each a function of explicit seeds:

1. :func:`draw_demo_set` draws a :class:`DemoSet` from an :class:`ExemplarPool` with a
   :class:`DemoRecipe`: how many exemplars of each class, which input/label format, which
   labels are shown (natural words, flipped words, or symbols from a pool), and the
   instruction. It never draws an exemplar whose uid or input text is excluded (the query,
   or every query of a demonstration block). Its random choices come from
   :class:`DrawStreams`: evaluation gives each choice its own stream, tuning mixtures one
   stream consumed in order (which is what keeps both byte-identical to their history).
2. A :class:`Fit` strategy decides how many exemplars of each class are kept when a length
   budget is given: :class:`DropFromFullest` (evaluation: drop one exemplar at a time from
   the class with most left, down to one per class) or :class:`ShrinkEveryClass` (tuning:
   the same number for every class, lowered until it fits); without a budget everything is
   kept (:class:`KeepAll`).
3. :func:`compose` writes the kept exemplars in a seeded order and the query, and returns a
   :class:`~taskmix.records.ComposedPrompt` whose :class:`~taskmix.records.Segment` spans say
   where the instruction, each exemplar's input and label, the query and the answer slot
   are, with each exemplar label's class and whether that class was shown earlier in the
   prompt (an *inferable* label). Returns ``None`` when no plan of the strategy fits.

The text is ``[instruction + sep] + (exemplar + sep)* + query``
(:func:`taskmix.prompts.formats.join_prompt`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..errors import TaskmixError
from ..records import ComposedPrompt, Example, Segment, Task
from ..symbols import sample_symbols
from .formats import FORMAT_NAMES, PromptFormat, answer_continuation, get_format

#: How the shown labels are made (:attr:`DemoRecipe.labels`).
LABEL_KINDS = ("natural", "symbols", "flipped")


class NotEnoughExemplars(TaskmixError):
    """A demonstration set cannot be drawn: a class has too few usable examples."""


def input_key(example: Example) -> tuple[str, ...]:
    """Identity of an example's input text (whitespace- and case-insensitive), for
    'never show the query, or a copy of it, as an exemplar'."""
    return tuple(" ".join(t.split()).lower() for t in example.texts)


def exclusions(examples: Sequence[Example]) -> frozenset:
    """The uids and input keys of ``examples``: what a demonstration set must not contain."""
    return frozenset([e.uid for e in examples] + [input_key(e) for e in examples])


class ExemplarPool:
    """The examples exemplars are drawn from, grouped by class (one group for free-form
    tasks), with their input keys computed once.

    ``examples`` keeps the split's labelled examples in their original order (tuning
    mixtures take their queries from it). With ``empty=True`` (zero-shot) every group is
    empty and the split is not needed.
    """

    def __init__(self, task: Task, split: str = "train", empty: bool = False):
        self.task = task
        n_groups = len(task.label_space or (None,))
        if empty:
            self.examples: tuple[Example, ...] = ()
            self.groups: tuple[tuple[Example, ...], ...] = ((),) * n_groups
            self.keys: tuple[tuple[tuple[str, ...], ...], ...] = ((),) * n_groups
            return
        if not task.has_split(split):
            raise TaskmixError(f"task {task.name!r} has no {split!r} split to draw exemplars from")
        if not task.is_classification:
            self.examples = task.split(split)
            self.groups = (self.examples,)
        else:
            self.examples = tuple(e for e in task.split(split) if e.label is not None)
            groups: list[list[Example]] = [[] for _ in range(n_groups)]
            for ex in self.examples:
                if not 0 <= ex.label < n_groups:
                    raise TaskmixError(
                        f"task {task.name!r}: example {ex.uid!r} has label {ex.label} outside the label space"
                    )
                groups[ex.label].append(ex)
            self.groups = tuple(tuple(g) for g in groups)
        self.keys = tuple(tuple(input_key(e) for e in g) for g in self.groups)

    def usable(self, group: int, exclude: frozenset) -> list[Example]:
        """The examples of ``group`` that are not excluded, in pool order."""
        return [e for e, key in zip(self.groups[group], self.keys[group]) if e.uid not in exclude and key not in exclude]

    def take_exactly(self, group: int, k: int, rng: random.Random, exclude: frozenset) -> list[Example] | None:
        """``k`` exemplars of ``group`` in a seeded order, none excluded; ``None`` if it has fewer.

        Draws ``k + 8`` positions first and keeps the first ``k`` usable ones (cheap on
        large splits); only when too many of those are excluded does it sample the rest.
        """
        items, keys = self.groups[group], self.keys[group]
        if len(items) < k:
            return None
        first = rng.sample(range(len(items)), min(len(items), k + 8))
        picked = [items[i] for i in first if items[i].uid not in exclude and keys[i] not in exclude][:k]
        if len(picked) == k:
            return picked
        rest = self.usable(group, exclude)
        return rng.sample(rest, k) if len(rest) >= k else None

    def take_up_to(self, group: int, k: int, rng: random.Random, exclude: frozenset) -> list[Example]:
        """At most ``k`` exemplars of ``group`` in a seeded order, none excluded."""
        rest = self.usable(group, exclude)
        return rng.sample(rest, min(k, len(rest)))


@dataclass(frozen=True)
class DemoRecipe:
    """How a demonstration set is drawn.

    per_class: exemplars per class (or in total, free-form); a ``(low, high)`` pair draws
        the number uniformly per set.
    independent_counts: with a ``(low, high)`` pair, every class draws its own number
        (else one number for all classes).
    exact: every class must give exactly that many (else a one-line error); otherwise a
        class gives as many as it has, up to that many.
    labels: ``natural`` (the task's label words), ``flipped`` (binary tasks: each class
        shows the other word) or ``symbols`` (drawn from ``symbol_pool``, optionally of one
        ``symbol_kind``, never a natural label word).
    instruction: write the task's instruction first.
    formats: the input/label formats one is drawn from (all of them by default).
    """

    per_class: int | tuple[int, int]
    independent_counts: bool = False
    exact: bool = True
    labels: str = "natural"
    instruction: bool = False
    formats: tuple[str, ...] = FORMAT_NAMES
    symbol_pool: str = "eval"
    symbol_kind: str | None = None

    def __post_init__(self) -> None:
        if self.labels not in LABEL_KINDS:
            raise TaskmixError(f"unknown label kind {self.labels!r} (known: {', '.join(LABEL_KINDS)})")
        if not self.formats:
            raise TaskmixError("a demonstration recipe needs at least one format")


@dataclass(frozen=True)
class DrawStreams:
    """The random streams of one draw: exemplars, format, symbols, and the seed of the
    exemplars' order. Passing the same generator three times consumes it in the order
    format, symbols, number per class, exemplars."""

    exemplars: random.Random
    format: random.Random
    symbols: random.Random
    order_seed: int


@dataclass(frozen=True)
class DemoSet:
    """A drawn demonstration set: exemplars per class, format, shown label per class,
    instruction, and the seed that orders the exemplars. ``id`` names it within its
    (seed, task, setting): queries with the same id share it."""

    id: str
    groups: tuple[tuple[Example, ...], ...]
    format: PromptFormat
    shown: tuple[str, ...]
    instruction: str
    order_seed: int

    @property
    def size(self) -> int:
        return sum(len(g) for g in self.groups)


def shown_labels(task: Task, recipe: DemoRecipe, rng: random.Random) -> tuple[str, ...]:
    """The label shown for each class under ``recipe`` (empty for free-form tasks)."""
    if not task.is_classification:
        return ()
    labels = tuple(task.label_space or ())
    if recipe.labels == "symbols":
        return sample_symbols(recipe.symbol_pool, len(labels), rng, exclude=labels, kind=recipe.symbol_kind)
    if recipe.labels == "flipped":
        return (labels[1], labels[0])
    return labels


#: ``choose(group, k, rng, exclude)``: at most ``k`` exemplars of class ``group``, none
#: excluded, most wanted first (fitting a length budget keeps a prefix of each class's list).
Choose = Callable[[int, int, random.Random, frozenset], list[Example]]


def draw_demo_set(
    pool: ExemplarPool, recipe: DemoRecipe, streams: DrawStreams, exclude: frozenset, set_id: str,
    choose: Choose | None = None,
) -> DemoSet:
    """Draw a demonstration set (see the module docs); ``exclude`` holds uids and input keys.

    ``choose`` picks a class's exemplars in a recipe that is not ``exact`` (tuning
    mixtures); the default, :meth:`ExemplarPool.take_up_to`, draws them at random. A
    recipe that is ``exact`` (evaluation) always draws at random.
    """
    task = pool.task
    fmt = get_format(recipe.formats[streams.format.randrange(len(recipe.formats))])
    shown = shown_labels(task, recipe, streams.symbols)
    k = recipe.per_class
    each = isinstance(k, tuple) and recipe.independent_counts
    if isinstance(k, tuple) and not each:
        k = streams.exemplars.randint(*k)
    groups = []
    for g in range(len(pool.groups)):
        if each:
            k = streams.exemplars.randint(*recipe.per_class)
        if not recipe.exact:
            groups.append(tuple((choose or pool.take_up_to)(g, k, streams.exemplars, exclude)))
            continue
        picked = pool.take_exactly(g, k, streams.exemplars, exclude)
        if picked is None:
            what = f"class {task.label_space[g]!r}" if task.is_classification else "the task"
            raise NotEnoughExemplars(
                f"task {task.name!r}: k={k} exemplars needed but {what} has only "
                f"{len(pool.usable(g, exclude))} usable training examples; lower --k"
            )
        groups.append(tuple(picked))
    instruction = task.instruction if recipe.instruction else ""
    return DemoSet(set_id, tuple(groups), fmt, shown, instruction, streams.order_seed)


# -- fitting to a length budget ---------------------------------------------------------------

Fits = Callable[[Sequence[str], str], bool]
"""``fits(rendered_exemplars, text)``: whether a draft prompt is within the budget."""


@dataclass(frozen=True)
class KeepAll:
    """No budget: every drawn exemplar is kept."""

    def plans(self, sizes: Sequence[int]) -> Iterator[tuple[int, ...]]:
        yield tuple(sizes)

    def fits(self, rendered: Sequence[str], text: str) -> bool:
        return True


@dataclass(frozen=True)
class DropFromFullest:
    """Keep all, then drop one exemplar at a time from the class with most left (ties:
    the last class; the last drawn goes first), down to one per class."""

    fits: Fits

    def plans(self, sizes: Sequence[int]) -> Iterator[tuple[int, ...]]:
        keep = list(sizes)
        while True:
            yield tuple(keep)
            g = max(range(len(keep)), key=lambda i: (keep[i], i))
            if keep[g] <= 1:
                return
            keep[g] -= 1


@dataclass(frozen=True)
class ShrinkEveryClass:
    """The same number of exemplars for every class (or all a class has), lowered one at a
    time from the most drawn down to ``min_per_class``."""

    fits: Fits
    min_per_class: int = 1

    def plans(self, sizes: Sequence[int]) -> Iterator[tuple[int, ...]]:
        for per_class in range(max(max(sizes, default=0), self.min_per_class), self.min_per_class - 1, -1):
            yield tuple(min(n, per_class) for n in sizes)


@dataclass(frozen=True)
class DropOneFromEveryClass:
    """Keep all, then drop one exemplar from every class with more than ``min_per_class``
    at a time: classes keep their differences in number (as long as they can), so the
    counts of a prompt drawn with independent counts stay unequal."""

    fits: Fits
    min_per_class: int = 1

    def plans(self, sizes: Sequence[int]) -> Iterator[tuple[int, ...]]:
        keep = list(sizes)
        while True:
            yield tuple(keep)
            if all(n <= self.min_per_class for n in keep):
                return
            keep = [n - 1 if n > self.min_per_class else n for n in keep]


Fit = KeepAll | DropFromFullest | ShrinkEveryClass | DropOneFromEveryClass


def compose(task: Task, query: Example, demos: DemoSet, fit: Fit = KeepAll()) -> ComposedPrompt | None:
    """``query`` written after ``demos``; ``None`` if no plan of ``fit`` fits its budget."""
    sizes = [len(g) for g in demos.groups]
    for keep in fit.plans(sizes):
        chosen = [ex for group, n in zip(demos.groups, keep) for ex in group[:n]]
        random.Random(demos.order_seed).shuffle(chosen)
        prompt = _write(task, query, demos, chosen)
        rendered = [prompt.text[a.start : b.end] for a, b in _exemplar_spans(prompt.segments)]
        if fit.fits(rendered, prompt.text):
            return ComposedPrompt(
                text=prompt.text, segments=prompt.segments, prefix_end=prompt.prefix_end, demo_set=demos.id,
                query_uid=query.uid, format_name=demos.format.name, exemplar_uids=tuple(e.uid for e in chosen),
                shown_labels=demos.shown, dropped_exemplars=sum(sizes) - sum(keep),
            )
    return None


@dataclass(frozen=True)
class _Draft:
    text: str
    segments: tuple[Segment, ...]
    prefix_end: int


def _write(task: Task, query: Example, demos: DemoSet, chosen: Sequence[Example]) -> _Draft:
    """The prompt text and its segments (the same text as ``join_prompt``)."""
    fmt, sep = demos.format, demos.format.example_sep
    parts: list[str] = []
    segments: list[Segment] = []
    pos = 0

    def put(text: str, kind: str | None, label_class: int | None = None, inferable: bool = False) -> None:
        nonlocal pos
        if kind is not None:
            segments.append(Segment(kind, pos, pos + len(text), label_class, inferable))
        parts.append(text)
        pos += len(text)

    instruction = demos.instruction.strip()
    if instruction:
        put(instruction, "instruction")
        put(sep, None)
    seen: set[int] = set()
    for ex in chosen:
        put(fmt.render_query(ex.fields), "exemplar_input")
        if task.is_classification:
            put(answer_continuation(demos.shown[ex.label]), "exemplar_label", ex.label, ex.label in seen)
            seen.add(ex.label)
        else:
            put(answer_continuation(ex.target or ""), "exemplar_label")
        put(sep, None)
    prefix_end = pos
    put(fmt.render_query(query.fields), "query_input")
    put("", "answer", query.label if task.is_classification else None)
    return _Draft("".join(parts), tuple(segments), prefix_end)


def _exemplar_spans(segments: Sequence[Segment]) -> Iterator[tuple[Segment, Segment]]:
    """(input, label) segment pairs of the exemplars, in prompt order."""
    inputs = [s for s in segments if s.kind == "exemplar_input"]
    labels = [s for s in segments if s.kind == "exemplar_label"]
    return zip(inputs, labels)


# -- counting tokens ---------------------------------------------------------------------------


class TokenCounter:
    """Counts the tokens of texts with a tokenizer, with a per-text function, or as an
    estimate of ``characters / chars_per_token`` (rounded up) when neither is given."""

    def __init__(self, tokenizer: object | None = None, count: Callable[[str], int] | None = None,
                 chars_per_token: float = 4.0):
        self.tokenizer = tokenizer
        self.count = count
        self.chars_per_token = chars_per_token

    def many(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        if self.count is not None:
            return [self.count(t) for t in texts]
        if self.tokenizer is None:
            return [int(-(-len(t) // self.chars_per_token)) for t in texts]
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    def __call__(self, text: str) -> int:
        return self.many([text])[0]
