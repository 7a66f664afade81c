"""The tuning pool: the classification tasks taskmix can train on, as an INSTA pool.

Selection for tuning needs candidates that have training data. Each candidate is a
catalogue classification task (by default the symbol-tuning datasets); its instructions
are the task's own instruction plus, as INSTA does for P3, every promptsource template of
the matching dataset (``taskmix.loaders.promptsource.HELD`` maps datasets to tasks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..catalogue import default_root, load_task
from ..errors import TaskmixError
from ..loaders import promptsource
from ..loaders.promptsource_templates import template_instruction
from .encoder import Encoder
from .index import Pool, PoolTask, build_index, pool_task
from .rank import check_instruction, select_by_instruction, select_for_task


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


def tuning_pool(tasks: Sequence[str], root: Path | None = None, with_templates: bool = True) -> Pool:
    """A :class:`Pool` of the classification tasks ``tasks`` (catalogue names)."""
    if not tasks:
        raise TaskmixError("the tuning pool needs at least one task")
    root = root or default_root()
    entries = []
    for name in tasks:
        task = load_task(name, root)
        if not task.is_classification:
            raise TaskmixError(f"task {name!r} is not a classification task; it cannot be in the tuning pool")
        entry = pool_task(task)
        if with_templates:
            extra = template_instructions(name, root)
            entry = PoolTask(entry.name, tuple(dict.fromkeys(entry.instructions + extra)), entry.category,
                             entry.source_dataset, entry.example)
        entries.append(entry)
    return Pool("tuning", tuple(entries))


def select_tuning_tasks(
    candidates: Sequence[str],
    k: int,
    target: str = "",
    instruction: str = "",
    aggregate: str = "mean",
    encoder: str | None = None,
    with_templates: bool = True,
    exclude_same_source: bool = True,
    root: Path | None = None,
) -> tuple:
    """INSTA over the tuning pool: the ``k`` candidates closest to ``target``'s instructions
    (or to a free-text ``instruction``); returns :class:`~taskmix.selection.rank.SelectedTask` records."""
    if bool(target.strip()) == bool(instruction.strip()):
        raise TaskmixError("select with exactly one of a target task and an instruction")
    if k < 1:
        raise TaskmixError(f"k must be at least 1, got {k}")
    enc = Encoder(encoder or None)
    pool = tuning_pool(candidates, root, with_templates=with_templates)
    if k > len(pool):
        raise TaskmixError(f"k {k} is larger than the {len(pool)} tasks of the tuning pool")
    index = build_index(pool, enc)
    if instruction:
        check_instruction(instruction)
        return select_by_instruction(index, enc, instruction, k, aggregate)
    return select_for_task(index, enc, target, k, aggregate, exclude_same_source=exclude_same_source, root=root)
