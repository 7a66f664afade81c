"""The tuning pool: the classification tasks taskmix can train on, as an INSTA pool.

Selection for tuning needs candidates that have training data. Each candidate is a
catalogue classification task (by default the symbol-tuning datasets); its instructions
are the task's own instruction plus, as INSTA does for P3, every promptsource template of
the matching dataset (``taskmix.loaders.promptsource.HELD`` maps datasets to tasks). A
target's instructions (the query) are built the same way.

:func:`select_tuning` chooses ``k`` tasks by one of :data:`METHODS`: ``insta`` ranks the
pool by instruction similarity to the target; ``random`` and ``all`` are its controls
(:mod:`taskmix.selection.controls`). A target never belongs to the pool it is selected
from: passing it among the candidates is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..catalogue import default_root, load_task
from ..errors import TaskmixError
from ..loaders import promptsource
from ..loaders.promptsource_templates import template_instruction
from ..records import Task
from .controls import ProblemFn, Replacement, random_draw
from .encoder import Encoder
from .index import Pool, PoolTask, build_index, pool_task
from .rank import SelectedTask, check_instruction, rank_tasks

METHODS = ("insta", "random", "all")
Loader = Callable[[str, Path], Task]


def template_instructions(task_name: str, root: Path) -> tuple[str, ...]:
    """The instructions of every promptsource template of the datasets behind ``task_name``."""
    out: list[str] = []
    for key, held in promptsource.HELD.items():
        if task_name not in held.tasks:
            continue
        try:
            collection = promptsource.templates_of(key, root)
        except TaskmixError:
            continue  # no templates for this dataset in the data folder
        out.extend(template_instruction(t) for t in collection.templates)
    return tuple(dict.fromkeys(t for t in out if t.strip()))


def tuning_entry(task: Task, root: Path, with_templates: bool = True) -> PoolTask:
    """The pool view of ``task``: its instructions, plus its promptsource templates' ones."""
    entry = pool_task(task)
    if not with_templates:
        return entry
    extra = template_instructions(task.name, root)
    return PoolTask(entry.name, tuple(dict.fromkeys(entry.instructions + extra)), entry.category,
                    entry.source_dataset, entry.example)


def tuning_pool(tasks: Sequence[str], root: Path | None = None, with_templates: bool = True,
                load: Loader | None = None) -> Pool:
    """A :class:`Pool` of the classification tasks ``tasks`` (catalogue names; ``load`` reads one)."""
    if not tasks:
        raise TaskmixError("the tuning pool needs at least one task")
    root = root or default_root()
    load = load or load_task
    entries = []
    for name in tasks:
        task = load(name, root)
        if not task.is_classification:
            raise TaskmixError(f"task {name!r} is not a classification task; it cannot be in the tuning pool")
        entries.append(tuning_entry(task, root, with_templates))
    return Pool("tuning", tuple(entries))


def check_instructions(pool: Pool, with_templates: bool) -> None:
    """INSTA ranks tasks by their instructions: a candidate without one is an error naming it."""
    bare = [t.name for t in pool.tasks if not t.instructions]
    if bare:
        hint = "leave them out of candidates" if with_templates else "turn with_templates on or leave them out of candidates"
        raise TaskmixError(f"candidate task(s) {', '.join(bare)} have no instruction for INSTA to rank them by "
                           f"(with_templates is {'on' if with_templates else 'off'}); {hint}")


@dataclass(frozen=True)
class TuningSelection:
    """What :func:`select_tuning` chose.

    method: ``insta``, ``random`` or ``all``.
    tasks: the chosen tasks (``score`` is the aggregated cosine for ``insta``, 0.0 otherwise;
        ``rank`` the position in the ranking, the draw or the pool).
    pool: the candidates selection chose from (after ``excluded``).
    excluded: candidates left out because they share the target's source dataset.
    replaced: chosen tasks that could not be built, why, and what replaced them.
    """

    method: str
    tasks: tuple[SelectedTask, ...]
    pool: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    replaced: tuple[Replacement, ...] = ()


def _selected(entries: Sequence[PoolTask]) -> tuple[SelectedTask, ...]:
    return tuple(SelectedTask(t.name, 0.0, r, t.category, t.source_dataset) for r, t in enumerate(entries, start=1))


def select_tuning(
    candidates: Sequence[str],
    k: int,
    method: str = "insta",
    target: str = "",
    instruction: str = "",
    aggregate: str = "mean",
    encoder: str | None = None,
    with_templates: bool = True,
    exclude_same_source: bool = True,
    seed: int = 0,
    draw: int = 0,
    problem: ProblemFn | None = None,
    root: Path | None = None,
    load: Loader | None = None,
) -> TuningSelection:
    """Choose tuning tasks among ``candidates`` for ``target`` (or a free-text ``instruction``).

    ``insta``: the ``k`` candidates closest to the query's instructions. ``random``: draw
    ``draw`` of ``seed`` (:func:`~taskmix.selection.controls.random_draw`; ``problem``
    says whether a task can be built). ``all``: every candidate that ``problem`` accepts
    (the others are recorded in ``replaced``). ``k`` may not exceed the pool.
    """
    if method not in METHODS:
        raise TaskmixError(f"unknown selection method {method!r} (known: {', '.join(METHODS)})")
    if bool(target.strip()) == bool(instruction.strip()):
        raise TaskmixError("select with exactly one of a target task and an instruction")
    if k < 1:
        raise TaskmixError(f"k must be at least 1, got {k}")
    if target and target in candidates:
        raise TaskmixError(f"target {target!r} is in the pool it is selected from; remove it from the candidates "
                           "(a target is never tuned on)")
    root = root or default_root()
    load = load or load_task
    ranked = method == "insta"
    pool = tuning_pool(candidates, root, with_templates=with_templates and ranked, load=load)
    query = tuning_entry(load(target, root), root, with_templates and ranked) if target else None
    source = query.source_dataset if query is not None and exclude_same_source else None
    excluded = tuple(t.name for t in pool.tasks if source and t.source_dataset == source)
    pool = Pool(pool.name, tuple(t for t in pool.tasks if t.name not in excluded))
    if k > len(pool):
        why = f" ({len(excluded)} left out for sharing the target's source dataset)" if excluded else ""
        raise TaskmixError(f"k {k} is larger than the {len(pool)} tasks of the tuning pool{why}")
    names = tuple(t.name for t in pool.tasks)
    if method == "random":
        d = random_draw(names, k, seed, draw, key=target or instruction, problem=problem)
        by_name = {t.name: t for t in pool.tasks}
        return TuningSelection(method, _selected([by_name[n] for n in d.tasks]), names, excluded, d.replaced)
    if method == "all":
        check = problem or (lambda name: None)
        reasons = {t.name: check(t.name) for t in pool.tasks}
        kept = [t for t in pool.tasks if reasons[t.name] is None]
        if not kept:
            raise TaskmixError(f"no task of the tuning pool can be built ({names[0]}: {reasons[names[0]]})")
        left = tuple(Replacement(n, r, None) for n, r in reasons.items() if r is not None)
        return TuningSelection(method, _selected(kept), names, excluded, left)
    check_instructions(pool, with_templates)
    enc = Encoder(encoder or None)
    if instruction:
        texts = [check_instruction(instruction)]
    else:
        assert query is not None
        texts = list(query.instructions)
        if not texts:
            raise TaskmixError(f"task {target!r} has no instruction to select with")
    chosen = rank_tasks(build_index(pool, enc), enc.encode(texts), k, aggregate)  # type: ignore[arg-type]
    return TuningSelection(method, chosen, names, excluded)
