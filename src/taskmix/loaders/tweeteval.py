"""TweetEval tasks (``tweeteval/<task>``), from cardiffnlp/tweeteval at the pinned commit.

Each task folder holds line-parallel ``{train,val,test}_text.txt`` / ``*_labels.txt`` and a
``mapping.txt`` (``id<TAB>name``; the stance one is shared by all targets). Splits are the
upstream ones (``val`` -> ``validation``). The mirrored snapshot has no sentiment training
text, so ``tweeteval/sentiment`` uses the upstream validation set (2,000) as ``train`` and
has no validation split. Emoji and stance/climate are not in the mirror.

Label words (index = upstream id, checked against ``mapping.txt``): emotion
anger/joy/optimism/sadness; hate neutral/hateful (upstream not-hate/hate); irony
literal/ironic (non_irony/irony); offensive neutral/offensive; sentiment
negative/neutral/positive; stance none/against/favor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.sources import provenance, require
from ..errors import DataError, TaskmixError
from ..records import Task
from . import common, parsers

BASE = "github/cardiffnlp/tweeteval/datasets/"
LICENSE = "see upstream README (Twitter terms apply)"


@dataclass(frozen=True)
class TweetEvalSpec:
    """One TweetEval task: its folder, label words (by upstream id), instruction, splits."""

    name: str  # part after "tweeteval/"
    folder: str  # under datasets/
    mapping: str  # mapping.txt path under datasets/
    label_space: tuple[str, ...]
    instruction: str
    category: str
    source_dataset: str
    splits: tuple[tuple[str, str], ...] = (("train", "train"), ("validation", "val"), ("test", "test"))


def _stance(target: str, folder: str, topic: str) -> TweetEvalSpec:
    return TweetEvalSpec(
        f"stance_{target}", f"stance/{folder}", "stance/mapping.txt", ("none", "against", "favor"),
        f"What is the stance of this tweet on {topic}: none, against or favor?", "stance",
        f"SemEval-2016 Task 6 stance detection ({topic})",
    )


SPECS: tuple[TweetEvalSpec, ...] = (
    TweetEvalSpec("emotion", "emotion", "emotion/mapping.txt", ("anger", "joy", "optimism", "sadness"),
                  "Which emotion does this tweet express: anger, joy, optimism or sadness?", "emotion",
                  "SemEval-2018 Task 1 emotion recognition"),
    TweetEvalSpec("hate", "hate", "hate/mapping.txt", ("neutral", "hateful"),
                  "Is this tweet neutral or hateful towards immigrants or women?", "hate speech",
                  "SemEval-2019 Task 5 HatEval"),
    TweetEvalSpec("irony", "irony", "irony/mapping.txt", ("literal", "ironic"),
                  "Is this tweet literal or ironic?", "irony", "SemEval-2018 Task 3 irony detection"),
    TweetEvalSpec("offensive", "offensive", "offensive/mapping.txt", ("neutral", "offensive"),
                  "Is this tweet neutral or offensive?", "offensive language", "SemEval-2019 Task 6 OffensEval"),
    TweetEvalSpec("sentiment", "sentiment", "sentiment/mapping.txt", ("negative", "neutral", "positive"),
                  "Is the sentiment of this tweet negative, neutral or positive?", "sentiment",
                  "SemEval-2017 Task 4 sentiment analysis",
                  splits=(("train", "val"), ("test", "test"))),
    _stance("abortion", "abortion", "the legalization of abortion"),
    _stance("atheism", "atheism", "atheism"),
    _stance("feminist", "feminist", "the feminist movement"),
    _stance("hillary", "hillary", "Hillary Clinton"),
)

BY_NAME = {f"tweeteval/{s.name}": s for s in SPECS}


def task_names(root: Path) -> list[str]:
    """Every ``tweeteval/*`` task name."""
    return list(BY_NAME)


def load(name: str, root: Path) -> Task:
    """Load ``tweeteval/<task>`` from the data folder ``root``."""
    if name not in BY_NAME:
        raise TaskmixError(f"unknown TweetEval task {name!r} (known: {', '.join(BY_NAME)})")
    spec = BY_NAME[name]
    root = Path(root)
    mapping_rel = BASE + spec.mapping
    mapping = parsers.parse_mapping(require(root, mapping_rel))
    ids = tuple(i for i, _ in mapping)
    if ids != tuple(str(i) for i in range(len(spec.label_space))):
        raise DataError(require(root, mapping_rel), f"label ids {ids} do not match the {len(spec.label_space)} labels of {name}")
    rels: list[str] = [mapping_rel]
    splits = {}
    for split, stem in spec.splits:
        text_rel = f"{BASE}{spec.folder}/{stem}_text.txt"
        label_rel = f"{BASE}{spec.folder}/{stem}_labels.txt"
        rels += [text_rel, label_rel]
        splits[split] = parsers.parse_parallel(require(root, text_rel), require(root, label_rel))
    metadata = [("canonical_source", "cardiffnlp/tweeteval"),
                ("upstream_labels", ", ".join(f"{i}={n}" for i, n in mapping))]
    if spec.name == "sentiment":
        metadata.append(("note", "train = upstream validation set (train text missing from the pinned snapshot)"))
    return common.build_task(
        name=name,
        source="cardiffnlp/tweeteval",
        instruction=spec.instruction,
        label_space=spec.label_space,
        label_map={str(i): i for i in range(len(spec.label_space))},
        splits=splits,
        input_fields=("text",),
        category=spec.category,
        source_dataset=spec.source_dataset,
        license=LICENSE,
        provenance=[provenance(r) for r in rels],
        metadata=metadata,
    )
