"""Build in-context-learning prompts for evaluation (and for symbol-tuning data).

For a task and an evaluated example, :func:`build_prompt` picks ``k`` exemplars per class
from the demonstration split (``train``), never the evaluated example itself nor any
exemplar with the same input text, shuffles them, writes them in a prompt format and
ends the text right before the answer. All choices come from seeds derived from
``(seed, task, example uid)`` (:mod:`taskmix.seeding`), so the same seed gives
byte-identical prompts.

Settings (:data:`SETTINGS`), as in Wei et al. (2023):

============== =========== ========================================================
name           instruction labels shown
============== =========== ========================================================
instr_labels   yes         the natural label words (``task.label_space``)
noinstr_labels no          the natural label words
instr_symbols  yes         arbitrary symbols from the **eval** pool, fresh mapping per prompt
noinstr_symbols no         arbitrary symbols from the **eval** pool, fresh mapping per prompt
flipped        no          the natural label words, swapped (binary tasks only): exemplars
                           show the other label and the gold answer is the other label too
============== =========== ========================================================

``flipped`` has no instruction, like the paper's flipped-label experiment (an instruction
would contradict the flipped exemplars). Exemplar choice and prompt format depend only on
``(seed, task, example)``, not on the setting, so settings are compared on the same
exemplars (paired comparisons).

Free-form tasks (``label_space is None``, e.g. BIG-Bench ``list_functions``) take ``k``
exemplars in total and only the two ``*_labels`` settings apply (no labels to remap).

Protocols: by default every query gets *fresh* exemplars. With ``shared_demos=True``
(:func:`build_prompts`), one demonstration block (exemplars, format and symbol mapping)
is drawn per ``(task, setting, seed)`` and reused for all queries; ``Prompt.prefix`` is
that block, so the engine reuses its key/value cache. Shared demos are much cheaper
(one long prefix) but every accuracy is conditioned on a single draw of exemplars, so
the variance between seeds is larger and the interval over examples understates it;
fresh exemplars average over many demonstration sets.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..errors import TaskmixError
from ..records import Example, Prompt, Task
from ..seeding import derive_seed, rng_for
from ..symbols import sample_symbols
from .formats import PromptFormat, answer_continuation, choose_format, demonstration_block, get_format


@dataclass(frozen=True)
class Setting:
    """An evaluation setting: whether the instruction is shown, and how labels are shown."""

    name: str
    instruction: bool
    symbols: bool = False
    flipped: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("instr_labels", instruction=True),
    Setting("noinstr_labels", instruction=False),
    Setting("instr_symbols", instruction=True, symbols=True),
    Setting("noinstr_symbols", instruction=False, symbols=True),
    Setting("flipped", instruction=False, flipped=True),
)
SETTING_NAMES: tuple[str, ...] = tuple(s.name for s in SETTINGS)
_SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
SYMBOL_POOL = "eval"


def get_setting(name: str) -> Setting:
    """The setting called ``name``; unknown names are a one-line error."""
    try:
        return _SETTINGS_BY_NAME[name]
    except KeyError:
        raise TaskmixError(f"unknown setting {name!r} (known: {', '.join(SETTING_NAMES)}, or 'all')") from None


def setting_applies(task: Task, setting: str | Setting) -> bool:
    """Whether ``setting`` makes sense for ``task``: symbol and flipped settings need a
    classification task, flipped needs exactly two classes."""
    s = get_setting(setting) if isinstance(setting, str) else setting
    if not task.is_classification:
        return not (s.symbols or s.flipped)
    if s.flipped:
        return len(task.label_space or ()) == 2
    return True


@dataclass(frozen=True)
class PromptOptions:
    """How prompts are built.

    k: exemplars per class (classification) or in total (free-form tasks); the paper uses 4.
        0 gives zero-shot prompts (for tasks whose inputs carry their own examples).
    format: a format name from :data:`~taskmix.prompts.formats.FORMAT_NAMES`, or ``"random"``
        for a format drawn per prompt (per demonstration block with shared demos).
    max_tokens: the context budget in tokens for prompt plus the longest candidate; ``None``
        for no limit. Needs a ``count_tokens`` callable.
    shared_demos: one demonstration block per (task, setting, seed) instead of fresh
        exemplars per query.
    demo_split: the split exemplars are drawn from.
    """

    k: int = 4
    format: str = "random"
    max_tokens: int | None = None
    shared_demos: bool = False
    demo_split: str = "train"

    def __post_init__(self) -> None:
        if self.k < 0:
            raise TaskmixError(f"k must be 0 (zero-shot) or more, got {self.k}")
        if self.format != "random":
            get_format(self.format)
        if self.max_tokens is not None and self.max_tokens < 1:
            raise TaskmixError(f"max_tokens must be positive, got {self.max_tokens}")


def input_key(example: Example) -> tuple[str, ...]:
    """Identity of an example's input, for 'never show the query as an exemplar'."""
    return tuple(" ".join(t.split()).lower() for t in example.texts)


class ExemplarPool:
    """The demonstration split of a task, grouped by class (built once per task)."""

    def __init__(self, task: Task, split: str = "train", k: int = 1):
        if k == 0:  # zero-shot: nothing to draw
            self.task, self.groups = task, ((),) * len(task.label_space or (None,))
            return
        if not task.has_split(split):
            raise TaskmixError(f"task {task.name!r} has no {split!r} split to draw exemplars from")
        self.task = task
        examples = task.split(split)
        if task.is_classification:
            n = len(task.label_space or ())
            groups: list[list[Example]] = [[] for _ in range(n)]
            for ex in examples:
                if ex.label is None or not 0 <= ex.label < n:
                    raise TaskmixError(f"task {task.name!r}: example {ex.uid!r} has no valid label")
                groups[ex.label].append(ex)
            self.groups = tuple(tuple(g) for g in groups)
        else:
            self.groups = (tuple(examples),)

    def draw(self, k: int, rng: random.Random, exclude: frozenset) -> list[list[Example]]:
        """``k`` exemplars from every group (in a seeded order), none whose input is in
        ``exclude`` (a set of uids and input keys)."""
        out = []
        for label, group in enumerate(self.groups):
            picked = _draw_from(group, k, rng, exclude)
            if picked is None:
                usable = sum(1 for e in group if e.uid not in exclude and input_key(e) not in exclude)
                what = (
                    f"class {self.task.label_space[label]!r}" if self.task.is_classification else "the task"
                )
                raise TaskmixError(
                    f"task {self.task.name!r}: k={k} exemplars needed but {what} has only "
                    f"{usable} usable training examples; lower --k"
                )
            out.append(picked)
        return out


def _draw_from(group: Sequence[Example], k: int, rng: random.Random, exclude: frozenset) -> list[Example] | None:
    if len(group) < k:
        return None
    first = rng.sample(range(len(group)), min(len(group), k + 8))
    picked = [group[i] for i in first if group[i].uid not in exclude and input_key(group[i]) not in exclude][:k]
    if len(picked) == k:
        return picked
    rest = [e for e in group if e.uid not in exclude and input_key(e) not in exclude]
    return rng.sample(rest, k) if len(rest) >= k else None


def _exclusions(examples: Sequence[Example]) -> frozenset:
    return frozenset([e.uid for e in examples] + [input_key(e) for e in examples])


@dataclass(frozen=True)
class _Demos:
    """A drawn demonstration set: exemplars per group, the format and the shown labels."""

    groups: tuple[tuple[Example, ...], ...]
    fmt: PromptFormat
    shown: tuple[str, ...]  # shown label per class index (empty for free-form)
    order_seed: int


def _draw_demos(
    task: Task, pool: ExemplarPool, setting: Setting, options: PromptOptions, rng_parts: tuple, exclude: frozenset
) -> _Demos:
    rng = rng_for(*rng_parts, "exemplars")
    groups = pool.draw(options.k, rng, exclude)
    fmt = choose_format(rng_for(*rng_parts, "format")) if options.format == "random" else get_format(options.format)
    shown: tuple[str, ...] = ()
    if task.is_classification:
        labels = tuple(task.label_space or ())
        if setting.symbols:
            shown = sample_symbols(SYMBOL_POOL, len(labels), rng_for(*rng_parts, "symbols"), exclude=labels)
        elif setting.flipped:
            shown = (labels[1], labels[0])
        else:
            shown = labels
    return _Demos(tuple(tuple(g) for g in groups), fmt, shown, derive_seed(*rng_parts, "order"))


def _render(
    task: Task,
    example: Example,
    setting: Setting,
    demos: _Demos,
    options: PromptOptions,
    seed: int,
    count_tokens: Callable[[str], int] | None,
    shared: bool,
) -> Prompt:
    fmt = demos.fmt
    instruction = task.instruction if setting.instruction else ""
    query = fmt.render_query(example.fields)
    if task.is_classification:
        if example.label is None:
            raise TaskmixError(f"task {task.name!r}: evaluated example {example.uid!r} has no label")
        if setting.flipped:  # candidates in natural order; the gold answer is the other label
            candidates = tuple(answer_continuation(s) for s in task.label_space or ())
            answer = 1 - example.label
        else:  # candidates[i] is the label shown for class i
            candidates = tuple(answer_continuation(s) for s in demos.shown)
            answer = example.label
        target = None
        label_map = tuple(zip(task.label_space or (), demos.shown))
    else:
        if example.target is None:
            raise TaskmixError(f"task {task.name!r}: evaluated example {example.uid!r} has no target")
        candidates, answer, target, label_map = (), None, example.target, ()

    def shown_label(ex: Example) -> str:
        return demos.shown[ex.label] if task.is_classification else (ex.target or "")

    # keep[g] exemplars of group g are used; drop one at a time from the fullest group (last
    # drawn first), down to one per group.
    sizes = [len(g) for g in demos.groups]
    keep = list(sizes)
    # the budget covers the prompt plus its longest candidate (free-form: the caller keeps
    # room for generated tokens by lowering max_tokens)
    tail_tokens = 0
    if options.max_tokens is not None and count_tokens is not None and candidates:
        tail_tokens = max(count_tokens(c) for c in candidates)

    while True:
        chosen = [ex for g, n in zip(demos.groups, keep) for ex in g[:n]]
        random.Random(demos.order_seed).shuffle(chosen)
        rendered = [fmt.render_example(ex.fields, shown_label(ex)) for ex in chosen]
        prefix = demonstration_block(fmt, instruction, rendered)
        text = prefix + query
        if options.max_tokens is None or count_tokens is None:
            break
        if count_tokens(text) + tail_tokens <= options.max_tokens:
            break
        # drop one exemplar from the group with most left (ties: last group first)
        g = max(range(len(keep)), key=lambda i: (keep[i], i))
        if keep[g] <= 1:
            raise TaskmixError(
                f"task {task.name!r}: example {example.uid!r} does not fit in {options.max_tokens} tokens "
                f"even with one exemplar per class (query kept whole); raise the context length or lower --k"
            )
        keep[g] -= 1
    return Prompt(
        task=task.name,
        example_uid=example.uid,
        setting=setting.name,
        text=text,
        candidates=candidates,
        answer=answer,
        target=target,
        prefix=prefix if shared else "",
        format_name=fmt.name,
        exemplar_uids=tuple(ex.uid for ex in chosen),
        label_map=label_map,
        dropped_exemplars=sum(sizes) - sum(keep),
        seed=seed,
    )


def build_prompt(
    task: Task,
    example: Example,
    setting: str | Setting,
    options: PromptOptions = PromptOptions(),
    seed: int = 0,
    count_tokens: Callable[[str], int] | None = None,
    pool: ExemplarPool | None = None,
) -> Prompt:
    """The prompt for one evaluated ``example`` with fresh exemplars (see module docs).

    ``pool`` may be passed to reuse an :class:`ExemplarPool` across calls.
    """
    s = get_setting(setting) if isinstance(setting, str) else setting
    if not setting_applies(task, s):
        raise TaskmixError(f"setting {s.name!r} does not apply to task {task.name!r}")
    pool = pool or ExemplarPool(task, options.demo_split, options.k)
    parts = (seed, task.name, example.uid)
    demos = _draw_demos(task, pool, s, options, parts, _exclusions([example]))
    return _render(task, example, s, demos, options, seed, count_tokens, shared=False)


def iter_prompts(
    task: Task,
    examples: Sequence[Example],
    setting: str | Setting,
    options: PromptOptions = PromptOptions(),
    seed: int = 0,
    count_tokens: Callable[[str], int] | None = None,
) -> Iterator[Prompt]:
    """The prompts of :func:`build_prompts`, made one at a time as they are consumed."""
    s = get_setting(setting) if isinstance(setting, str) else setting
    if not setting_applies(task, s):
        raise TaskmixError(f"setting {s.name!r} does not apply to task {task.name!r}")
    pool = ExemplarPool(task, options.demo_split, options.k)
    if not options.shared_demos:
        for ex in examples:
            yield build_prompt(task, ex, s, options, seed, count_tokens, pool)
        return
    parts = (seed, task.name, "shared-demos")
    demos = _draw_demos(task, pool, s, options, parts, _exclusions(examples))
    for ex in examples:
        yield _render(task, ex, s, demos, options, seed, count_tokens, shared=True)


def build_prompts(
    task: Task,
    examples: Sequence[Example],
    setting: str | Setting,
    options: PromptOptions = PromptOptions(),
    seed: int = 0,
    count_tokens: Callable[[str], int] | None = None,
) -> tuple[Prompt, ...]:
    """Prompts for many evaluated examples of one task and setting.

    Fresh exemplars per query by default; with ``options.shared_demos`` one demonstration
    block, drawn once per ``(task, setting, seed)`` and excluding every evaluated input,
    is reused (``Prompt.prefix``). If a query does not fit the budget with the shared
    block, exemplars are dropped for that query only. :func:`iter_prompts` makes the same
    prompts lazily.
    """
    return tuple(iter_prompts(task, examples, setting, options, seed, count_tokens))
