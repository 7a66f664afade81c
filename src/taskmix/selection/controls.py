"""The controls of INSTA tuning: k random tasks, and the whole pool at the same budget.

* :func:`random_draw`: a seeded permutation of the candidates; its first ``k`` tasks are
  the draw. A drawn task that cannot be built (``problem(name)`` says why, e.g. no prompt
  fits the length budget) is replaced by the next task of the same permutation that can;
  every replacement is recorded (:class:`Replacement`), never dropped silently.
* :func:`equal_budget_cap`: the prompts per task that give ``n`` tasks at least the
  ``k x per_task_cap`` prompts of a ``k``-task mixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import TaskmixError
from ..seeding import rng_for

#: ``problem(task_name)``: why the task cannot be built (one line), or ``None`` when it can.
ProblemFn = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Replacement:
    """A chosen task that could not be used: ``reason`` says why; ``replaced_by`` is the
    task that took its place (``None`` when nothing replaces it, as in the ``all`` control)."""

    task: str
    reason: str
    replaced_by: str | None


@dataclass(frozen=True)
class Draw:
    """The tasks of one random draw (in draw order) and the replacements made on the way."""

    tasks: tuple[str, ...]
    replaced: tuple[Replacement, ...]


def draw_order(candidates: Sequence[str], seed: int, draw: int, key: str = "") -> list[str]:
    """The seeded permutation of ``candidates`` (sorted first, so their order does not matter)
    for draw number ``draw`` of ``seed``; ``key`` (the target) makes targets draw independently."""
    order = sorted(set(candidates))
    rng_for("select-random", seed, key, draw).shuffle(order)
    return order


def random_draw(candidates: Sequence[str], k: int, seed: int, draw: int = 0, key: str = "",
                problem: ProblemFn | None = None) -> Draw:
    """``k`` tasks drawn from ``candidates`` (see the module doc); an error when fewer than
    ``k`` candidates can be built."""
    if k < 1:
        raise TaskmixError(f"k must be at least 1, got {k}")
    order = draw_order(candidates, seed, draw, key)
    if k > len(order):
        raise TaskmixError(f"k {k} is larger than the {len(order)} candidates of the random draw")
    check = problem or (lambda name: None)
    spare = iter(order[k:])
    chosen: list[str] = []
    replaced: list[Replacement] = []
    for name in order[:k]:
        reason = check(name)
        if reason is None:
            chosen.append(name)
            continue
        failed = [(name, reason)]
        substitute = None
        for other in spare:
            why = check(other)
            if why is None:
                substitute = other
                break
            failed.append((other, why))
        if substitute is None:
            n_ok = sum(1 for n in order if check(n) is None)
            raise TaskmixError(
                f"random draw {draw} (seed {seed}): only {n_ok} of the {len(order)} candidates can be built, "
                f"fewer than k {k} ({failed[0][0]}: {failed[0][1]})"
            )
        chosen.append(substitute)
        replaced.extend(Replacement(t, why, substitute) for t, why in failed)
    return Draw(tuple(chosen), tuple(replaced))


def equal_budget_cap(per_task_cap: int, k: int, n_tasks: int) -> int:
    """``ceil(k * per_task_cap / n_tasks)``: with it ``n_tasks`` tasks give at least the
    ``k * per_task_cap`` prompts of ``k`` tasks (and fewer than ``n_tasks`` more)."""
    if per_task_cap < 1 or k < 1 or n_tasks < 1:
        raise TaskmixError(f"equal budget needs positive numbers, got cap {per_task_cap}, k {k}, {n_tasks} tasks")
    return math.ceil(k * per_task_cap / n_tasks)
