"""RAFT tasks (``raft/<task>``): the 50 labelled examples of RAFT (Alex et al. 2021).

From oughtinc/raft-baselines at two pinned commits (see ``resources/sources.json``):

* ``data/<task>/task.json``: ``data_columns`` (the CSV's data columns, ``ID`` among them)
  and ``label_columns: {"Label": [label names]}``;
* ``data/<task>/train.csv``: the data columns, ``Label`` and ``ID``; labels are written as
  label names (RAFT's Hugging Face copy writes them as 1-based ids, ``0`` = unlabelled;
  those are accepted too);
* ``src/raft_baselines/data/prompt_construction_settings.jsonl``: line 1 maps every task to
  its input fields (in prompt order), line 2 to its instruction.

Served: ``overruling``, ``semiconductor_org_types``, ``terms_of_service`` and
``twitter_complaints`` (with SUBJ, TweetEval hate and stance, and ADE the eleven
evaluation datasets of the symbol-tuning paper), plus RAFT's own ``ade_corpus_v2`` and
``tweet_eval_hate`` samples (the ``ade`` and ``tweeteval/hate`` tasks are the full data sets).

Each task has one split, ``train`` (uids ``train/<ID>``), and is evaluated leave-one-out:
its metadata entry ``("eval_split", "train")`` makes the evaluation take its queries from
that split (:func:`taskmix.evaluation.plan.eval_examples`), and the prompt builder draws
every query's exemplars from the same split, never the query itself nor an example with
the same input text, so each query sees exemplars from the other 49. Label words are
RAFT's label names (index = position in ``task.json``); input field names are the column
names in snake case (``Organization name`` -> ``organization_name``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..data.sources import provenance, require
from ..errors import DataError, TaskmixError
from ..records import Task
from . import common, parsers
from .parsers import RawRecord

REPO = "github/oughtinc/raft-baselines/"
SETTINGS = REPO + "src/raft_baselines/data/prompt_construction_settings.jsonl"
LABEL_COLUMN = "Label"
ID_COLUMN = "ID"
LICENSE = "code MIT; data: each task's upstream terms (RAFT dataset card)"


@dataclass(frozen=True)
class RaftSpec:
    """One RAFT task: its folder name under ``data/``, category and source data set."""

    name: str  # RAFT's task name, the part after "raft/"
    category: str
    source_dataset: str


SPECS: tuple[RaftSpec, ...] = (
    RaftSpec("overruling", "legal", "RAFT overruling: legal sentences that overrule a precedent (Zheng et al. 2021)"),
    RaftSpec("semiconductor_org_types", "organization type",
             "RAFT semiconductor org types: institutions of semiconductor conference papers (IEEE)"),
    RaftSpec("terms_of_service", "legal", "RAFT terms of service: potentially unfair clauses (Lippi et al. 2019)"),
    RaftSpec("twitter_complaints", "complaint", "RAFT twitter complaints: tweets to companies (Preotiuc-Pietro et al. 2019)"),
    RaftSpec("ade_corpus_v2", "medical", "RAFT sample of the ADE corpus v2 (Gurulingappa et al. 2012)"),
    RaftSpec("tweet_eval_hate", "hate speech", "RAFT sample of TweetEval hate (SemEval-2019 Task 5 HatEval)"),
)

BY_NAME = {f"raft/{s.name}": s for s in SPECS}


def field_name(column: str) -> str:
    """The input-field name of a RAFT column: ``"Tweet text"`` -> ``"tweet_text"``."""
    return "_".join(column.lower().split())


def read_settings(path: Path, task: str) -> tuple[tuple[str, ...], str]:
    """``task``'s input columns (line 1) and instruction (line 2) of the prompt settings file."""
    lines = parsers.read_lines(path)
    found = []
    for i, what in ((1, "input fields"), (2, "instruction")):
        if len(lines) < i:
            raise DataError(path, f"has no line {i} ({what} of every task)")
        try:
            data = json.loads(lines[i - 1])
        except (json.JSONDecodeError, RecursionError, ValueError) as e:
            raise DataError(path, f"malformed JSON ({type(e).__name__})", line=i) from None
        if not isinstance(data, dict) or task not in data:
            raise DataError(path, f"names no {what} for task {task!r}", line=i)
        found.append(data[task])
    columns, instruction = found
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c.strip() for c in columns):
        raise DataError(path, f"input fields of {task!r} are not a list of column names", line=1)
    if not isinstance(instruction, str) or not instruction.strip():
        raise DataError(path, f"instruction of {task!r} is not a non-empty string", line=2)
    return tuple(columns), instruction.strip()


def read_task_json(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A task.json's data columns and label names (checked)."""
    try:
        data = json.loads(parsers.read_text(path))
    except (json.JSONDecodeError, RecursionError, ValueError) as e:
        raise DataError(path, f"malformed JSON ({type(e).__name__})") from None
    columns = data.get("data_columns") if isinstance(data, dict) else None
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns) or ID_COLUMN not in columns:
        raise DataError(path, f"'data_columns' must be a list of column names including {ID_COLUMN!r}")
    labels = data.get("label_columns")
    names = labels.get(LABEL_COLUMN) if isinstance(labels, dict) else None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise DataError(path, f"'label_columns' must map {LABEL_COLUMN!r} to a list of label names")
    if len(set(names)) != len(names):
        raise DataError(path, f"label names repeat: {names}")
    return tuple(columns), tuple(names)


def label_map(names: tuple[str, ...]) -> dict[str, int]:
    """Raw label -> index: each label name, and its 1-based id (RAFT's Hugging Face encoding)."""
    ids = {str(i + 1): i for i in range(len(names))}
    clash = sorted(set(ids) & set(names))
    if clash:  # a label named "2" would be ambiguous; names win
        ids = {k: v for k, v in ids.items() if k not in clash}
    return {**ids, **{n: i for i, n in enumerate(names)}}


def read_rows(path: Path, columns: tuple[str, ...]) -> tuple[RawRecord, ...]:
    """train.csv's rows: the input ``columns`` and the label, keyed by the ``ID`` column."""
    rows = parsers.parse_csv(path, [*columns, ID_COLUMN], LABEL_COLUMN, [*map(field_name, columns), ID_COLUMN])
    seen: set[str] = set()
    out = []
    for r in rows:
        key = r.fields[-1][1].strip()
        if not key:
            raise DataError(path, f"empty {ID_COLUMN!r}", line=r.line)
        if key in seen:
            raise DataError(path, f"{ID_COLUMN} {key!r} repeats", line=r.line)
        seen.add(key)
        out.append(RawRecord(r.fields[:-1], r.label, r.path, r.line, key))
    if not out:
        raise DataError(path, "no labelled examples")
    return tuple(out)


def task_names(root: Path) -> list[str]:
    """Every ``raft/*`` task name."""
    return list(BY_NAME)


def load(name: str, root: Path) -> Task:
    """Load ``raft/<task>`` from the data folder ``root``."""
    if name not in BY_NAME:
        raise TaskmixError(f"unknown RAFT task {name!r} (known: {', '.join(BY_NAME)})")
    spec = BY_NAME[name]
    root = Path(root)
    task_rel = f"{REPO}data/{spec.name}/task.json"
    csv_rel = f"{REPO}data/{spec.name}/train.csv"
    columns, instruction = read_settings(require(root, SETTINGS), spec.name)
    data_columns, labels = read_task_json(require(root, task_rel))
    missing = [c for c in columns if c not in data_columns]
    if missing:
        raise DataError(require(root, task_rel), f"data_columns lack the input fields {missing} of {SETTINGS}")
    rows = read_rows(require(root, csv_rel), columns)
    return common.build_task(
        name=name,
        source="oughtinc/raft-baselines",
        instruction=instruction,
        label_space=labels,
        label_map=label_map(labels),
        splits={"train": rows},
        input_fields=tuple(field_name(c) for c in columns),
        category=spec.category,
        source_dataset=spec.source_dataset,
        license=LICENSE,
        provenance=[provenance(r) for r in (task_rel, csv_rel, SETTINGS)],
        metadata=[
            ("canonical_source", "oughtinc/raft-baselines"),
            ("eval_split", "train"),
            ("upstream_labels", ", ".join(f"{i + 1}={n}" for i, n in enumerate(labels))),
            ("note", "RAFT's labelled examples only (one split); evaluated leave-one-out: every example is a "
                     "query and its exemplars come from the others, never one with the same input text"),
        ],
    )
