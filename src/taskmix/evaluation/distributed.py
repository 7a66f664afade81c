"""Evaluation across several processes (``accelerate launch`` / ``torchrun``).

When the environment names a world of several processes (``WORLD_SIZE`` > 1, with
``RANK``, ``MASTER_ADDR``/``MASTER_PORT`` as the launchers set them), every process builds
the same prompts (they are seeded), the prompts are cut into the same engine-sized chunks
as in a single-process run, and chunk ``g`` (numbered over all tasks and settings) is
scored by process ``g % world``. The evaluation scores one (task, setting) at a time; its
predictions are gathered with ``torch.distributed.all_gather_object`` over gloo and put
back in order, so each process ends with exactly the single-process list, and only the
main process appends them to the run folder.

Chunks, not single prompts, are shared out so that the engine receives exactly the
batches it would receive in one process: its numbers do not depend on the world size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from ..errors import TaskmixError

T = TypeVar("T")
P = TypeVar("P")


@dataclass(frozen=True)
class World:
    """This process's place among the evaluating processes."""

    rank: int
    size: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = World(0, 1)


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise TaskmixError(f"environment variable {name}={value!r} is not an integer") from None


def world_from_env() -> World:
    """The world that ``accelerate launch``/``torchrun`` describe in ``WORLD_SIZE``/``RANK``
    (one process when they are not set)."""
    size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if size < 1 or not 0 <= rank < size:
        raise TaskmixError(f"bad process world: RANK={rank} WORLD_SIZE={size}")
    return World(rank, size)


_GROUP: Any = None


def _gloo_group() -> Any:
    """A gloo process group (the default one, initialised from the environment if needed)."""
    global _GROUP
    import torch.distributed as dist

    if _GROUP is not None:
        return _GROUP
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    _GROUP = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")
    return _GROUP


def init_world() -> World:
    """The process world; with several processes, joins the gloo group (once)."""
    world = world_from_env()
    if world.size > 1:
        _gloo_group()
    return world


def my_chunks(n_chunks: int, world: World) -> list[int]:
    """The global chunk numbers this process scores: ``rank, rank + size, ...``."""
    return list(range(world.rank, n_chunks, world.size))


def gather_ordered(mine: dict[int, T], n_chunks: int, world: World) -> list[T]:
    """All processes' ``{chunk number: value}`` merged into one list in chunk order."""
    if world.size == 1:
        return [mine[g] for g in range(n_chunks)]
    import torch.distributed as dist

    parts: list[Any] = [None] * world.size
    dist.all_gather_object(parts, mine, group=_gloo_group())
    merged: dict[int, T] = {}
    for part in parts:
        merged.update(part)
    if sorted(merged) != list(range(n_chunks)):
        raise TaskmixError(f"distributed evaluation: gathered {len(merged)} of {n_chunks} chunks")
    return [merged[g] for g in range(n_chunks)]


def barrier(world: World) -> None:
    """Wait for every process (no-op with one process)."""
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier(group=_gloo_group())


def score_stream(
    prompts: Iterable[P],
    chunk_size: int,
    score_chunk: Callable[[Sequence[P]], list[T]],
    world: World,
    first_chunk: int = 0,
) -> Iterator[list[T]]:
    """Score ``prompts`` (consumed lazily) in chunks of ``chunk_size`` shared out over the
    world, yielding each chunk's results in prompt order (on every process).

    Chunks are taken a window of ``world.size`` at a time, so each process scores one
    chunk per window and only a window's prompts and results are held in memory.
    ``first_chunk`` is the global number of the first chunk: an evaluation that calls
    this once per prompt set shares the chunks out as if they were numbered over the run.
    """
    it = iter(prompts)
    g = first_chunk
    while True:
        window = []
        for _ in range(world.size):
            chunk = list(islice(it, chunk_size))
            if not chunk:
                break
            window.append(chunk)
        if not window:
            return
        mine = {j: score_chunk(chunk) for j, chunk in enumerate(window) if (g + j) % world.size == world.rank}
        yield from gather_ordered(mine, len(window), world)
        g += len(window)


def score_sharded(
    prompt_sets: Sequence[Sequence[P]],
    chunk_size: int,
    score_chunk: Callable[[Sequence[P]], list[T]],
    world: World,
    first_chunk: int = 0,
) -> list[list[T]]:
    """:func:`score_stream` over several prompt sets, chunks numbered across them;
    returns, per prompt set, the results in prompt order (on every process)."""
    out: list[list[T]] = []
    for prompts in prompt_sets:
        results: list[T] = []
        for part in score_stream(prompts, chunk_size, score_chunk, world, first_chunk):
            results.extend(part)
        out.append(results)
        first_chunk += -(-len(prompts) // chunk_size)
    return out


def my_prompt_count(sizes: Sequence[int], chunk_size: int, world: World) -> int:
    """How many prompts this process scores (for its progress bar)."""
    lengths = [min(chunk_size, n - start) for n in sizes for start in range(0, n, chunk_size)]
    return sum(lengths[g] for g in my_chunks(len(lengths), world))
