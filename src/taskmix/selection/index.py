"""Task pools and their instruction-embedding indexes (INSTA).

A pool is a set of tasks, each with one or more instruction texts:

* ``niv2``: the 1,654 NIV2 definitions (optionally English-only), with FLAN's category and
  source dataset as metadata;
* ``p3``: every promptsource template (one instruction each) of every dataset;
* ``bigbench``: each BIG-Bench task's description and task prefix;
* ``bbh``: the 27 BBH instructions.

:func:`build_index` embeds every instruction once (cached on disk by the encoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TaskmixError
from ..loaders import bbh, bigbench, niv2, promptsource
from ..loaders.promptsource_templates import template_instruction
from ..records import Split, Task

POOLS = ("niv2", "p3", "bigbench", "bbh")


@dataclass(frozen=True)
class PoolTask:
    """One task of a pool and the metadata selection reports."""

    name: str
    instructions: tuple[str, ...]
    category: str | None = None
    source_dataset: str | None = None
    example: str = ""  # one input/output example (for the sample-based baseline), if any


@dataclass(frozen=True)
class Pool:
    name: str
    tasks: tuple[PoolTask, ...]

    def __len__(self) -> int:
        return len(self.tasks)

    def position(self, task_name: str) -> int:
        for i, t in enumerate(self.tasks):
            if t.name == task_name:
                return i
        raise TaskmixError(f"task {task_name!r} is not in the {self.name} pool")

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(text for t in self.tasks for text in t.instructions)

    @property
    def owners(self) -> tuple[int, ...]:
        """For each text in :attr:`texts`, the index of its task."""
        return tuple(i for i, t in enumerate(self.tasks) for _ in t.instructions)


def pool_task(task: Task) -> PoolTask:
    """The pool view of a loaded task (its non-empty instructions)."""
    example = ""
    for split in ("train", "test"):
        if task.has_split(split) and task.split(split):
            ex = task.split(split)[0]
            out = ex.target if ex.target is not None else (task.label_space or ("",))[ex.label or 0]
            example = f"{' '.join(ex.texts)} {out}".strip()
            break
    instructions = tuple(dict.fromkeys(i.strip() for i in task.instructions if i.strip()))
    return PoolTask(task.name, instructions, task.category, task.source_dataset, example)


def build_pool(pool: str, root: Path, english_only: bool = False) -> Pool:
    """Load pool ``pool`` (one of :data:`POOLS`) from the data root.

    ``english_only`` keeps only English NIV2 tasks (ignored by other pools). Tasks with
    no instruction text are left out.
    """
    root = Path(root)
    if pool == "niv2":
        tasks = niv2.load_all(root, english_only=english_only)
    elif pool == "p3":
        tasks = [_p3_instructions_only(n, root) for n in promptsource.task_names(root)]
    elif pool == "bigbench":
        tasks = [bigbench.load(n, root) for n in bigbench.task_names(root)]
    elif pool == "bbh":
        tasks = [bbh.load(n, root) for n in bbh.task_names(root)]
    else:
        raise TaskmixError(f"unknown pool {pool!r} (known: {', '.join(POOLS)})")
    entries = tuple(p for p in (pool_task(t) for t in tasks) if p.instructions)
    return Pool(pool, entries)


def _p3_instructions_only(name: str, root: Path) -> Task:
    """A P3 task's instructions without rendering its examples (the pool needs only text)."""
    key = name.split("/", 1)[1]
    collection = promptsource.templates_of(key, root)
    instructions = tuple(dict.fromkeys(template_instruction(t) for t in collection.templates))
    return Task(
        name=name, source="p3", instructions=instructions, input_fields=("input",), label_space=None,
        splits=(Split("test", ()),), source_dataset=collection.key,
    )


@dataclass(frozen=True)
class Index:
    """A pool with one L2-normalised embedding row per instruction text (``pool.texts`` order)."""

    pool: Pool
    vectors: Any  # numpy array (n_texts, dim)
    owners: Any  # numpy int array (n_texts,): task index of each row
    encoder_fingerprint: str

    def task_vectors(self, i: int) -> Any:
        return self.vectors[self.owners == i]


def build_index(pool: Pool, encoder: Any) -> Index:
    """Embed every instruction of ``pool`` with ``encoder`` (an :class:`~taskmix.selection.encoder.Encoder`)."""
    import numpy as np

    vectors = encoder.encode(list(pool.texts))
    return Index(pool, vectors, np.asarray(pool.owners, dtype=np.int64), encoder.fingerprint)
