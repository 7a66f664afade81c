"""Named evaluation suites (a task name or file in a suite is loaded by
:func:`taskmix.catalogue.load_task_spec`).

``symbol-eval``: the eleven held-out classification datasets of Wei et al. (2023), each
with the paper's abbreviation (:attr:`SuiteTask.abbreviation`): SUBJ, TweetEval hate
(TEH) and stance abortion / atheism / feminist / hillary (TEAB, TEAT, TEFE, TEHI), ADE
(ADEC), and RAFT's overruling (OR), semiconductor org types (SOT), terms of service (TOS)
and twitter complaints (TC). As in the paper, hate and ADE are the full data sets
(``tweeteval/hate``, ``ade``; RAFT's 50-example samples of them are the extra tasks
``raft/tweet_eval_hate`` and ``raft/ade_corpus_v2``), the four RAFT tasks are RAFT's 50
labelled examples, evaluated leave-one-out. Each is evaluated with ``k`` exemplars per
class in all five settings (``flipped`` only on the binary ones). None of them may be a
symbol-tuning task.

``icl-dev``: classification tasks that are neither tuning tasks (not in the default
symbol-tuning list) nor evaluation tasks -- TweetEval emotion, IMDB, Yelp, Amazon and
Yahoo! Answers -- the only place where training settings may be chosen.

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
    abbreviation: the paper's short name for reports (``SUBJ``, ``TEH``, ``OR``); empty if none.
    """

    name: str
    k: int | None = None
    format: str | None = None
    settings: tuple[str, ...] | None = None
    abbreviation: str = ""


LIST_FUNCTION_SUBTASKS = tuple(f"c{i:03d}" for i in range(1, 21))

SUITES: dict[str, tuple[SuiteTask, ...]] = {
    "symbol-eval": tuple(
        SuiteTask(n, abbreviation=a)
        for n, a in (
            ("subj", "SUBJ"),
            ("tweeteval/hate", "TEH"),
            ("tweeteval/stance_abortion", "TEAB"),
            ("tweeteval/stance_atheism", "TEAT"),
            ("tweeteval/stance_feminist", "TEFE"),
            ("tweeteval/stance_hillary", "TEHI"),
            ("ade", "ADEC"),
            ("raft/overruling", "OR"),
            ("raft/semiconductor_org_types", "SOT"),
            ("raft/terms_of_service", "TOS"),
            ("raft/twitter_complaints", "TC"),
        )
    ),
    "icl-dev": tuple(SuiteTask(n) for n in ("tweeteval/emotion", "imdb", "yelp", "amazon", "yahoo")),
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
