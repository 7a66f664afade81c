"""The P3 task family: promptsource datasets as tasks (``p3/<dataset>[/<subset>]``).

Every ``templates.yaml`` under
``github/bigscience-workshop/promptsource/promptsource/templates`` is one task; its
templates are parsed and rendered by :mod:`taskmix.loaders.promptsource_templates`.

* A task's ``instructions`` are its templates' instructions (:func:`template_instruction`:
  the prompt side of the Jinja with ``{{field}}`` references replaced by ``[field]``
  placeholders, string literals and answer choices kept) -- INSTA's P3 pool.
* Examples: for the datasets we hold (:data:`HELD`), the matching catalogue task's
  examples are rendered, each with one template drawn by a seeded RNG from the templates
  that render it; ``input`` is the rendered prompt and ``target`` the rendered answer
  (free-form: each template has its own answer words). **For every other promptsource
  dataset the task's splits are empty** (we do not hold its data); its instructions are
  still complete. The metadata key ``examples`` says which case applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import TaskmixError
from ..records import Example, Split, Task
from ..seeding import rng_for
from . import classic, tweeteval
from .instr_common import provenance_of, read_text, resolve
from .promptsource_templates import TemplateCollection, parse_templates, render_template, template_instruction

FAMILY = "p3"
BASE = "github/bigscience-workshop/promptsource/promptsource/templates"
LICENSE = "Apache-2.0"


@lru_cache(maxsize=8)
def _files(root: Path) -> dict[str, str]:
    base = resolve(root, BASE)
    out = {}
    for path in sorted(base.rglob("templates.yaml")):
        key = path.parent.relative_to(base).as_posix()
        out[key] = path.relative_to(root).as_posix()
    return out


def task_names(root: Path) -> list[str]:
    """``p3/<dataset>[/<subset>]`` for every promptsource templates file under the root."""
    return [f"{FAMILY}/{key}" for key in _files(Path(root))]


@lru_cache(maxsize=512)
def templates_of(key: str, root: Path) -> TemplateCollection:
    """The parsed templates of promptsource dataset ``key`` (e.g. ``glue/sst2``)."""
    rel = _files(Path(root)).get(key)
    if rel is None:
        raise TaskmixError(f"no promptsource templates for {key!r}")
    path = Path(root) / rel
    return parse_templates(read_text(path), path)


@dataclass(frozen=True)
class HeldData:
    """How a promptsource dataset maps onto a catalogue task we hold.

    ``tasks``: catalogue names to try, in order (classic or TweetEval tasks); ``fields``: promptsource field names
    for the catalogue example's fields, by position; ``labels``: the dataset's label
    names in Hugging Face index order (the ``label`` the templates index with);
    ``aliases``: catalogue label word -> Hugging Face label name, where they differ.
    """

    tasks: tuple[str, ...]
    fields: tuple[str, ...]
    labels: tuple[str, ...]
    label_field: str = "label"
    aliases: tuple[tuple[str, str], ...] = ()


_NLI2 = ("entailment", "not_entailment")
_YES_NO_NLI = (("yes", "entailment"), ("no", "not_entailment"))
_STANCE = ("none", "against", "favor")
HELD: dict[str, HeldData] = {
    "glue/sst2": HeldData(("sst2",), ("sentence",), ("negative", "positive")),
    "glue/rte": HeldData(("rte",), ("sentence1", "sentence2"), _NLI2, aliases=_YES_NO_NLI),
    "super_glue/rte": HeldData(("rte",), ("premise", "hypothesis"), _NLI2, aliases=_YES_NO_NLI),
    "super_glue/cb": HeldData(("cb",), ("premise", "hypothesis"), ("entailment", "contradiction", "neutral")),
    "glue/mrpc": HeldData(
        ("mrpc",), ("sentence1", "sentence2"), ("not_equivalent", "equivalent"),
        aliases=(("no", "not_equivalent"), ("yes", "equivalent")),
    ),
    "glue/qqp": HeldData(
        ("qqp",), ("question1", "question2"), ("not_duplicate", "duplicate"),
        aliases=(("no", "not_duplicate"), ("yes", "duplicate")),
    ),
    "glue/qnli": HeldData(("qnli",), ("question", "sentence"), _NLI2, aliases=_YES_NO_NLI),
    "glue/cola": HeldData(("cola",), ("sentence",), ("unacceptable", "acceptable")),
    "glue/mnli": HeldData(("mnli",), ("premise", "hypothesis"), ("entailment", "neutral", "contradiction")),
    "snli": HeldData(("snli",), ("premise", "hypothesis"), ("entailment", "neutral", "contradiction")),
    "ag_news": HeldData(
        ("agnews", "ag_news"), ("text",), ("World", "Sports", "Business", "Sci/Tech"), aliases=(("technology", "Sci/Tech"),)
    ),
    "imdb": HeldData(("imdb",), ("text",), ("neg", "pos")),
    "rotten_tomatoes": HeldData(("mr",), ("text",), ("neg", "pos")),
    "trec": HeldData(("trec",), ("text",), ("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"), "coarse_label"),
    "tweet_eval/hate": HeldData(
        ("tweeteval/hate",), ("text",), ("non-hate", "hate"), aliases=(("neutral", "non-hate"), ("hateful", "hate"))
    ),
    "tweet_eval/irony": HeldData(
        ("tweeteval/irony",), ("text",), ("non_irony", "irony"), aliases=(("literal", "non_irony"), ("ironic", "irony"))
    ),
    "tweet_eval/offensive": HeldData(
        ("tweeteval/offensive",), ("text",), ("non-offensive", "offensive"), aliases=(("neutral", "non-offensive"),)
    ),
    "tweet_eval/sentiment": HeldData(("tweeteval/sentiment",), ("text",), ("negative", "neutral", "positive")),
    "tweet_eval/emotion": HeldData(("tweeteval/emotion",), ("text",), ("anger", "joy", "optimism", "sadness")),
    **{
        f"tweet_eval/stance_{t}": HeldData((f"tweeteval/stance_{t}",), ("text",), _STANCE)
        for t in ("abortion", "atheism", "feminist", "hillary")
    },
}

_SYNONYMS = {
    "neg": "negative", "pos": "positive", "abbreviation": "abbr", "entity": "enty", "description": "desc",
    "human": "hum", "location": "loc", "numeric": "num", "number": "num",
}


def _canon(label: str) -> str:
    key = re.sub(r"[^a-z]", "", label.lower())
    return _SYNONYMS.get(key, key)


def apply_templates(collection: TemplateCollection, task: Task, held: HeldData, name: str) -> tuple[Split, ...]:
    """Render ``task``'s examples with ``collection``'s templates (one seeded template per example).

    Catalogue labels are mapped to the dataset's Hugging Face label index by name
    (:data:`HELD`); a label that cannot be mapped, or a field-count mismatch, is a
    :class:`TaskmixError`. Examples that no template renders are skipped.
    """
    if not task.is_classification:
        raise TaskmixError(f"{task.name}: promptsource templates need a classification task")
    hf = [_canon(x) for x in held.labels]
    aliases = {_canon(a): _canon(b) for a, b in held.aliases}
    index = {}
    for i, word in enumerate(task.label_space or ()):
        key = aliases.get(_canon(word), _canon(word))
        if key not in hf:
            raise TaskmixError(f"{task.name}: label {word!r} has no match among {', '.join(held.labels)}")
        index[i] = hf.index(key)
    splits = []
    for split in task.splits:
        out = []
        for ex in split.examples:
            if len(ex.fields) != len(held.fields):
                raise TaskmixError(f"{task.name}: {len(ex.fields)} fields, promptsource expects {', '.join(held.fields)}")
            row: dict[str, Any] = dict(zip(held.fields, ex.texts))
            row[held.label_field] = index[ex.label] if ex.label is not None else -1
            order = list(collection.templates)
            rng_for(FAMILY, name, ex.uid).shuffle(order)
            for t in order:
                try:
                    prompt, answer = render_template(t, row)
                except TaskmixError:
                    continue
                if answer:
                    out.append(Example(ex.uid, (("input", prompt),), target=answer))
                    break
        splits.append(Split(split.name, tuple(out)))
    return tuple(splits)


@lru_cache(maxsize=32)
def _load_held_task(name: str, root: Path) -> Task:
    """A task that :data:`HELD` names: ``tweeteval/...`` from its loader, else a classic one."""
    family = tweeteval if name.startswith("tweeteval/") else classic
    return family.load(name, root)


def _held_splits(collection: TemplateCollection, name: str, root: Path) -> tuple[tuple[Split, ...], str]:
    held = HELD.get(collection.key)
    if held is None:
        return (Split("train", ()), Split("test", ())), "not held"
    for task_name in held.tasks:
        try:
            task = _load_held_task(task_name, root)
        except TaskmixError:
            continue
        return apply_templates(collection, task, held, name), f"rendered from {task_name}"
    return (Split("train", ()), Split("test", ())), "held but its loader is not available"


def load(name: str, root: Path) -> Task:
    """Load ``p3/<dataset>[/<subset>]``: its template instructions and (where held) rendered examples."""
    root = Path(root)
    key = name.split("/", 1)[1] if name.startswith(f"{FAMILY}/") else ""
    if key not in _files(root):
        raise TaskmixError(f"unknown promptsource task {name!r}")
    collection = templates_of(key, root)
    instructions: list[str] = []
    for t in collection.templates:
        text = template_instruction(t)
        if text and text not in instructions:
            instructions.append(text)
    splits, how = _held_splits(collection, name, root)
    return Task(
        name=name,
        source=FAMILY,
        instructions=tuple(instructions),
        input_fields=("input",),
        label_space=None,
        splits=splits,
        source_dataset=collection.key,
        license=LICENSE,
        provenance=(provenance_of(root, _files(root)[key], LICENSE),),
        metadata=(
            ("examples", how),
            ("templates", ", ".join(t.name for t in collection.templates)),
        ),
    )
