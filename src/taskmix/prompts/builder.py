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

Protocols (:class:`DemoProtocol`, a value): the queries of a (task, setting) are assigned
to demonstration sets. ``block_size=1`` gives every query *fresh* exemplars drawn from
``(seed, task, example uid)``; ``block_size=None`` (``shared_demos=True``) draws one
demonstration block (exemplars, format and symbol mapping) per ``(task, setting, seed)``
for all queries; ``block_size=G`` deals the queries, in a seeded order, into groups of G
that each share one block drawn from ``(seed, task, G, group)`` and holding none of the
group's queries (by uid or text). Blocks are drawn independently of the setting, so the
settings of one query stay paired. A shared block is ``Prompt.prefix``, so the engine
computes its key/value cache once. Larger blocks are cheaper but condition more queries
on one draw of exemplars: intervals must treat a block's queries as one cluster
(``Prompt.demo_set`` names the set). A block whose own queries leave a class too few
exemplars (leave-one-out tasks such as RAFT's, whose 50 examples are both queries and
exemplars) is split in halves until each part can draw its set.

Every prompt is made by the one composer, :mod:`taskmix.prompts.compose`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from ..errors import TaskmixError
from ..records import ComposedPrompt, Example, Prompt, SkippedQuery, Task
from ..seeding import derive_seed, rng_for
from .compose import (
    DemoRecipe, DemoSet, DrawStreams, DropFromFullest, ExemplarPool, KeepAll, NotEnoughExemplars, compose,
    draw_demo_set, exclusions, input_key,
)
from .formats import FORMAT_NAMES, answer_continuation, get_format

__all__ = [
    "SETTINGS", "SETTING_NAMES", "DemoBlock", "DemoProtocol", "ExemplarPool", "PromptOptions", "Setting",
    "build_prompt", "build_prompts", "get_setting", "input_key", "iter_prompt_outcomes", "iter_prompts",
    "setting_applies",
]


@dataclass(frozen=True)
class Setting:
    """An evaluation setting: whether the instruction is shown, and how labels are shown."""

    name: str
    instruction: bool
    symbols: bool = False
    flipped: bool = False

    @property
    def labels(self) -> str:
        """The :attr:`DemoRecipe.labels` kind of this setting."""
        return "symbols" if self.symbols else "flipped" if self.flipped else "natural"


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
#: Demonstration-set ids of one query (fresh exemplars) start with this.
SINGLE_QUERY_SET = "q:"


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
class DemoBlock:
    """Queries that share one demonstration set: its id, the seed parts it is drawn from,
    its queries (in evaluation order) and whether its block is a shared prompt prefix."""

    id: str
    parts: tuple
    queries: tuple[Example, ...]
    shared: bool


@dataclass(frozen=True)
class DemoProtocol:
    """How the queries of one (task, setting) are assigned to demonstration sets.

    block_size: queries per demonstration set: 1 for fresh exemplars per query, ``None``
        for one set shared by every query, G for seeded groups of G (see the module docs).
    """

    block_size: int | None = 1

    def __post_init__(self) -> None:
        if self.block_size is not None and self.block_size < 1:
            raise TaskmixError(f"block size must be 1 or more, got {self.block_size}")

    @property
    def name(self) -> str:
        if self.block_size == 1:
            return "fresh exemplars per query"
        if self.block_size is None:
            return "one shared demonstration block"
        return f"demonstration blocks of {self.block_size} queries"

    def blocks(self, seed: int, task: str, examples: Sequence[Example]) -> Iterator[DemoBlock]:
        """The demonstration blocks of ``examples``, made lazily: ordered by their first
        query's position, queries in their original order (G=1 keeps the original order)."""
        n, size = len(examples), self.block_size
        if size == 1:
            for ex in examples:
                yield DemoBlock(f"{SINGLE_QUERY_SET}{ex.uid}", (seed, task, ex.uid), (ex,), False)
            return
        if size is None or size >= n:
            yield DemoBlock("shared", (seed, task, "shared-demos"), tuple(examples), True)
            return
        order = list(range(n))
        rng_for(seed, task, "demo-blocks", size).shuffle(order)
        groups = sorted((sorted(order[i : i + size]), j) for j, i in enumerate(range(0, n, size)))
        for members, j in groups:
            yield DemoBlock(f"b{j}", (seed, task, "demo-block", size, j), tuple(examples[i] for i in members), True)


@dataclass(frozen=True)
class PromptOptions:
    """How prompts are built.

    k: exemplars per class (classification) or in total (free-form tasks); the paper uses 4.
        0 gives zero-shot prompts (for tasks whose inputs carry their own examples).
    format: a format name from :data:`~taskmix.prompts.formats.FORMAT_NAMES`, or ``"random"``
        for a format drawn per demonstration set.
    max_tokens: the context budget in tokens for prompt plus the longest candidate; ``None``
        for no limit. Needs a ``count_tokens`` callable.
    block_size: queries per demonstration set (:class:`DemoProtocol`); 1 is fresh exemplars
        per query, ``None`` one set for all.
    shared_demos: the same as ``block_size=None`` (kept for old configs).
    demo_split: the split exemplars are drawn from.
    """

    k: int = 4
    format: str = "random"
    max_tokens: int | None = None
    shared_demos: bool = False
    demo_split: str = "train"
    block_size: int | None = 1

    def __post_init__(self) -> None:
        if self.k < 0:
            raise TaskmixError(f"k must be 0 (zero-shot) or more, got {self.k}")
        if self.format != "random":
            get_format(self.format)
        if self.max_tokens is not None and self.max_tokens < 1:
            raise TaskmixError(f"max_tokens must be positive, got {self.max_tokens}")
        if self.shared_demos and self.block_size not in (1, None):
            raise TaskmixError("shared demos (one block for all queries) conflict with a block size; give one of them")
        DemoProtocol(None if self.shared_demos else self.block_size)  # refuses a block size below 1

    @property
    def protocol(self) -> DemoProtocol:
        return DemoProtocol(None if self.shared_demos else self.block_size)

    def recipe(self, setting: Setting) -> DemoRecipe:
        formats = FORMAT_NAMES if self.format == "random" else (self.format,)
        return DemoRecipe(per_class=self.k, exact=True, labels=setting.labels, instruction=setting.instruction,
                          formats=formats, symbol_pool=SYMBOL_POOL)


def _draw(pool: ExemplarPool, setting: Setting, options: PromptOptions, parts: tuple, exclude: frozenset,
          set_id: str) -> DemoSet:
    streams = DrawStreams(rng_for(*parts, "exemplars"), rng_for(*parts, "format"), rng_for(*parts, "symbols"),
                          derive_seed(*parts, "order"))
    return draw_demo_set(pool, options.recipe(setting), streams, exclude, set_id)


def _candidates(task: Task, example: Example, setting: Setting, demos: DemoSet) -> tuple[tuple[str, ...], int | None]:
    """The scored continuations and the gold index (classification)."""
    if example.label is None:
        raise TaskmixError(f"task {task.name!r}: evaluated example {example.uid!r} has no label")
    if setting.flipped:  # candidates in natural order; the gold answer is the other label
        return tuple(answer_continuation(s) for s in task.label_space or ()), 1 - example.label
    return tuple(answer_continuation(s) for s in demos.shown), example.label  # candidates[i]: class i


def _prompt(
    task: Task, example: Example, setting: Setting, demos: DemoSet, options: PromptOptions, seed: int,
    count_tokens: Callable[[str], int] | None, shared: bool,
) -> Prompt | SkippedQuery:
    if task.is_classification:
        candidates, answer = _candidates(task, example, setting, demos)
        target, label_map = None, tuple(zip(task.label_space or (), demos.shown))
    else:
        if example.target is None:
            raise TaskmixError(f"task {task.name!r}: evaluated example {example.uid!r} has no target")
        candidates, answer, target, label_map = (), None, example.target, ()
    fit = KeepAll()
    if options.max_tokens is not None and count_tokens is not None:
        # the budget covers the prompt plus its longest candidate (free-form: the caller keeps
        # room for generated tokens by lowering max_tokens)
        tail = max((count_tokens(c) for c in candidates), default=0)
        limit = options.max_tokens
        fit = DropFromFullest(lambda rendered, text: count_tokens(text) + tail <= limit)
    composed = compose(task, example, demos, fit)
    if composed is None:
        return SkippedQuery(task.name, setting.name, example.uid,
                            f"task {task.name!r}: example {example.uid!r} does not fit in {options.max_tokens} tokens "
                            f"even with one exemplar per class (query kept whole); raise the context length or lower --k")
    return _to_prompt(task, setting, composed, candidates, answer, target, label_map, seed, shared)


def _to_prompt(task: Task, setting: Setting, c: ComposedPrompt, candidates: tuple[str, ...], answer: int | None,
               target: str | None, label_map: tuple, seed: int, shared: bool) -> Prompt:
    return Prompt(
        task=task.name, example_uid=c.query_uid, setting=setting.name, text=c.text, candidates=candidates,
        answer=answer, target=target, prefix=c.prefix if shared else "", format_name=c.format_name,
        exemplar_uids=c.exemplar_uids, label_map=label_map, dropped_exemplars=c.dropped_exemplars, seed=seed,
        demo_set=c.demo_set,
    )


def _setting_for(task: Task, setting: str | Setting) -> Setting:
    s = get_setting(setting) if isinstance(setting, str) else setting
    if not setting_applies(task, s):
        raise TaskmixError(f"setting {s.name!r} does not apply to task {task.name!r}")
    return s


def _pool(task: Task, options: PromptOptions) -> ExemplarPool:
    return ExemplarPool(task, options.demo_split, empty=options.k == 0)


def build_prompt(
    task: Task,
    example: Example,
    setting: str | Setting,
    options: PromptOptions = PromptOptions(),
    seed: int = 0,
    count_tokens: Callable[[str], int] | None = None,
    pool: ExemplarPool | None = None,
) -> Prompt:
    """The prompt for one evaluated ``example`` with fresh exemplars (see module docs); a
    query that cannot fit ``options.max_tokens`` is a one-line error.

    ``pool`` may be passed to reuse an :class:`ExemplarPool` across calls.
    """
    s = _setting_for(task, setting)
    pool = pool or _pool(task, options)
    [block] = list(DemoProtocol(1).blocks(seed, task.name, (example,)))
    demos = _draw(pool, s, options, block.parts, exclusions([example]), block.id)
    out = _prompt(task, example, s, demos, options, seed, count_tokens, shared=False)
    if isinstance(out, SkippedQuery):
        raise TaskmixError(out.reason)
    return out


def iter_prompt_outcomes(
    task: Task,
    examples: Sequence[Example],
    setting: str | Setting,
    options: PromptOptions = PromptOptions(),
    seed: int = 0,
    count_tokens: Callable[[str], int] | None = None,
) -> Iterator[Prompt | SkippedQuery]:
    """One (task, setting)'s prompts, made lazily, demonstration block by block
    (``options.protocol``); a query whose prompt cannot fit the budget gives a
    :class:`~taskmix.records.SkippedQuery` instead."""
    s = _setting_for(task, setting)
    pool = _pool(task, options)
    for block in options.protocol.blocks(seed, task.name, examples):
        for part, demos in _draw_block(pool, s, options, block):
            for ex in part.queries:
                yield _prompt(task, ex, s, demos, options, seed, count_tokens, part.shared)


def _draw_block(pool: ExemplarPool, setting: Setting, options: PromptOptions,
                block: DemoBlock) -> Iterator[tuple[DemoBlock, DemoSet]]:
    """The demonstration set of ``block``; a block whose own queries leave a class too few
    exemplars (a leave-one-out task, whose queries and exemplars are the same few examples)
    is split in two halves, recursively, each drawing its own set."""
    try:
        yield block, _draw(pool, setting, options, block.parts, exclusions(block.queries), block.id)
        return
    except NotEnoughExemplars:
        if len(block.queries) == 1:
            raise
    half = (len(block.queries) + 1) // 2
    for i, queries in enumerate((block.queries[:half], block.queries[half:])):
        yield from _draw_block(pool, setting, options,
                               DemoBlock(f"{block.id}.{i}", block.parts + (i,), queries, block.shared))


def iter_prompts(
    task: Task,
    examples: Sequence[Example],
    setting: str | Setting,
    options: PromptOptions = PromptOptions(),
    seed: int = 0,
    count_tokens: Callable[[str], int] | None = None,
) -> Iterator[Prompt]:
    """The prompts of :func:`build_prompts`, made one at a time as they are consumed; a
    query that cannot fit the budget is a one-line error."""
    for out in iter_prompt_outcomes(task, examples, setting, options, seed, count_tokens):
        if isinstance(out, SkippedQuery):
            raise TaskmixError(out.reason)
        yield out


def build_prompts(
    task: Task,
    examples: Sequence[Example],
    setting: str | Setting,
    options: PromptOptions = PromptOptions(),
    seed: int = 0,
    count_tokens: Callable[[str], int] | None = None,
) -> tuple[Prompt, ...]:
    """Prompts for many evaluated examples of one task and setting.

    Fresh exemplars per query by default; with shared demos or blocks, each demonstration
    block is drawn once and excludes every query it serves (``Prompt.prefix``). If a query
    does not fit the budget with its block, exemplars are dropped for that query only.
    :func:`iter_prompts` makes the same prompts lazily.
    """
    return tuple(iter_prompts(task, examples, setting, options, seed, count_tokens))
