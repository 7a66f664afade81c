"""Named evaluation suites (a task name or file in a suite is loaded by
:func:`taskmix.catalogue.load_task_spec`).

``symbol-eval``: the held-out classification datasets of Wei et al. (2023) that the
offline mirror has -- SUBJ, TweetEval emotion, hate, and stance (abortion, atheism,
feminist, hillary), and ADE -- each evaluated with ``k`` exemplars per class in all
five settings (``flipped`` only on the binary ones: SUBJ, hate, ADE).

``algorithmic``: BIG-Bench ``list_functions`` and ``simp_turing_concept`` with exact-match
generation. The paper evaluates 20 List Functions subtasks; we take ``c001`` .. ``c020``
(the first twenty in BIG-Bench's numbering), each 4-shot *within* the subtask (exemplars
from its seeded train split) in the fixed ``Input:``/``Output:`` format. The task
descriptions of list functions state the target function, so only the no-instruction
setting is run. ``simp_turing_concept`` inputs already contain their own input/output
examples, so it is prompted zero-shot with the input verbatim (the ``raw`` format).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class SuiteTask:
    """One task of a suite, with per-task overrides.

    name: a catalogue name (``tweeteval/hate``) or a path to a user file.
    k: exemplars per class / in total; ``None`` uses the run's ``k``.
    format: a fixed prompt format; ``None`` uses the run's ``format``.
    settings: the settings run for this task; ``None`` uses the run's settings.
    """

    name: str
    k: int | None = None
    format: str | None = None
    settings: tuple[str, ...] | None = None


LIST_FUNCTION_SUBTASKS = tuple(f"c{i:03d}" for i in range(1, 21))

SUITES: dict[str, tuple[SuiteTask, ...]] = {
    "symbol-eval": tuple(
        SuiteTask(n)
        for n in (
            "subj",
            "tweeteval/emotion",
            "tweeteval/hate",
            "tweeteval/stance_abortion",
            "tweeteval/stance_atheism",
            "tweeteval/stance_feminist",
            "tweeteval/stance_hillary",
            "ade",
        )
    ),
    "algorithmic": tuple(
        SuiteTask(f"bigbench/list_functions/{s}", k=4, format="input_output", settings=("noinstr_labels",)) for s in LIST_FUNCTION_SUBTASKS
    )
    + (SuiteTask("bigbench/simp_turing_concept", k=0, format="raw", settings=("noinstr_labels",)),),
}


def suite_tasks(name: str) -> tuple[SuiteTask, ...]:
    """The tasks of suite ``name``; unknown suites are a one-line error."""
    try:
        return SUITES[name]
    except KeyError:
        raise ConfigError(f"unknown suite {name!r} (known: {', '.join(SUITES)})") from None
