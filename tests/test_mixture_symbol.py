"""The symbol-tuning mixture: prompt rules, evaluation-task exclusion, determinism, CLI errors."""

from __future__ import annotations

import json

import pytest

from taskmix.cli import main
from taskmix.errors import TaskmixError
from taskmix.mixture.build import build_symbol_mixture, content_sha256
from taskmix.mixture.config import DEFAULT_TASKS, MixtureConfig
from taskmix.mixture.symbol import is_evaluation_task, make_prompt, plan_task
from taskmix.prompts.compose import TokenCounter
from taskmix.prompts.formats import FORMAT_NAMES
from taskmix.symbols import symbol_pool

SMALL = dict(tasks=("toy", "toy3"), per_task_cap=12, max_length=400)


def read(out):
    return [json.loads(line) for line in (out / "prompts.jsonl").read_text().splitlines()]


def test_default_tasks_are_disjoint_from_the_symbol_eval_suite():
    from taskmix.evaluation.suites import suite_tasks

    eval_names = {t.name for t in suite_tasks("symbol-eval")}
    assert eval_names and not eval_names & set(DEFAULT_TASKS)
    assert not any(is_evaluation_task(t) for t in DEFAULT_TASKS)
    assert all(is_evaluation_task(t) for t in eval_names)
    assert is_evaluation_task("tweeteval/stance_climate")  # every stance task, even unlisted


def test_symbol_prompt_follows_the_rules(toy_loader):
    config = MixtureConfig(**SMALL)
    plan = plan_task(toy_loader("toy3"), "train")
    tuning = set(symbol_pool("tuning"))
    for q in range(10):
        p = make_prompt(plan, q, config, TokenCounter(chars_per_token=4.0))
        assert p is not None and p.kind == "symbol"
        assert p.format_name in FORMAT_NAMES
        assert "Classify" not in p.prompt  # no instruction
        assert p.target.startswith(" ") and p.target.strip() in tuning
        for word in ("entailment", "neutral", "contradiction"):
            assert word not in p.prompt
        query = plan.examples[q]
        assert p.prompt.count(query.get("premise")) == 1  # the query is never its own exemplar
        assert 2 * 3 <= p.n_exemplars <= 10 * 3
        assert p.uid == f"toy3:{query.uid}"
    # the same query gives the same prompt; another seed gives another
    assert make_prompt(plan, 3, config, TokenCounter(chars_per_token=4.0)) == make_prompt(plan, 3, config, TokenCounter(chars_per_token=4.0))
    other = MixtureConfig(**SMALL, seed=9)
    assert make_prompt(plan, 3, other, TokenCounter(chars_per_token=4.0)) != make_prompt(plan, 3, config, TokenCounter(chars_per_token=4.0))


def test_exemplars_per_class_shrink_to_fit_max_length(toy_loader):
    plan = plan_task(toy_loader("toy"), "train")
    meter = TokenCounter(chars_per_token=1.0)  # one token per character: easy to reason about
    roomy = MixtureConfig(**dict(SMALL, max_length=5000), min_exemplars_per_class=10, max_exemplars_per_class=10)
    assert make_prompt(plan, 0, roomy, meter).n_exemplars == 20
    tight = MixtureConfig(**dict(SMALL, max_length=260), min_exemplars_per_class=2, max_exemplars_per_class=10)
    for q in range(8):
        p = make_prompt(plan, q, tight, meter)
        assert p is not None and len(p.prompt + p.target) <= 260
        assert p.n_exemplars in (4, 6, 8)  # 2 classes: whole exemplars per class are dropped


def test_independent_class_counts_stay_unequal_and_equal_counts_stay_equal(toy_loader):
    plan = plan_task(toy_loader("toy3"), "train")
    meter = TokenCounter(chars_per_token=4.0)

    def counts(config):
        out = []
        for q in range(12):
            p = make_prompt(plan, q, config, meter)
            shown = [seg.label_class for seg in p.segments if seg.kind == "exemplar_label"]
            out.append(tuple(sorted(shown.count(c) for c in set(shown))))
        return out

    equal = counts(MixtureConfig(**SMALL))
    assert all(len(set(c)) == 1 for c in equal)  # every class the same number: the last labels can be counted
    independent = counts(MixtureConfig(**SMALL, class_counts="independent"))
    assert sum(len(set(c)) > 1 for c in independent) >= 6 and all(min(c) >= 2 for c in independent)
    with pytest.raises(TaskmixError, match="class_counts must be one of equal, independent"):
        MixtureConfig(class_counts="balanced")


def test_instruction_share_mixes_natural_label_prompts(toy_loader, tmp_path):
    out = tmp_path / "mix"
    result = build_symbol_mixture(MixtureConfig(**SMALL, instruction_share=0.5), out, load=toy_loader)
    rows = read(out)
    inst = [r for r in rows if r["kind"] == "instruction"]
    assert 0 < len(inst) < len(rows)
    for r in inst:
        assert r["prompt"].startswith("Classify the")
        assert r["target"].strip() in ("negative", "positive", "entailment", "neutral", "contradiction")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tasks"]["toy"]["written"] == 12 and result.n_prompts == 24


def test_flipped_share_swaps_natural_labels_on_two_class_tasks_and_leaves_other_prompts(toy_loader, tmp_path):
    paper = build_symbol_mixture(MixtureConfig(**SMALL, instruction_share=0.25), tmp_path / "paper", load=toy_loader)
    build_symbol_mixture(MixtureConfig(**SMALL, instruction_share=0.25, flipped_share=0.5), tmp_path / "f", load=toy_loader)
    before = {r["uid"]: r for r in read(tmp_path / "paper")}
    rows = read(tmp_path / "f")
    flipped = [r for r in rows if r["kind"] == "flipped"]
    assert flipped and all(r["task"] == "toy" for r in flipped)  # toy3 has three classes: symbols only
    assert {r["kind"] for r in read(tmp_path / "paper")} == {"symbol", "instruction"}
    plan = plan_task(toy_loader("toy"), "train")
    gold = {f"toy:{e.uid}": e.label for e in plan.examples}
    words = ("negative", "positive")
    for r in flipped:
        assert not r["prompt"].startswith("Classify the")  # no instruction
        assert r["target"] == " " + words[1 - gold[r["uid"]]]  # the query's label is the other word
        labels = [r["prompt"][s["start"]:s["end"]] for s in r["segments"] if s["kind"] == "exemplar_label"]
        classes = [s["class"] for s in r["segments"] if s["kind"] == "exemplar_label"]
        assert labels and all(lab.strip() == words[1 - c] for lab, c in zip(labels, classes))
        assert before[r["uid"]]["kind"] == "symbol"  # only symbol prompts turn into flipped ones
    # every prompt that is not flipped is byte for byte the paper mixture's
    assert all(r == before[r["uid"]] for r in rows if r["kind"] != "flipped")
    assert len(rows) == paper.n_prompts
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert manifest["tasks"]["toy"]["flipped"] == len(flipped) and manifest["tasks"]["toy3"]["flipped"] == 0
    with pytest.raises(TaskmixError, match="flipped_share must be in"):
        MixtureConfig(flipped_share=1.5)


def test_same_config_same_bytes_and_dataset_on_disk(toy_loader, tmp_path):
    from datasets import load_from_disk

    a = build_symbol_mixture(MixtureConfig(**SMALL), tmp_path / "a", load=toy_loader)
    b = build_symbol_mixture(MixtureConfig(**SMALL), tmp_path / "b", load=toy_loader)
    c = build_symbol_mixture(MixtureConfig(**SMALL, seed=1), tmp_path / "c", load=toy_loader)
    assert a.content_sha256 == b.content_sha256 == content_sha256(tmp_path / "a")
    assert a.content_sha256 != c.content_sha256
    assert (tmp_path / "a" / "prompts.jsonl").read_bytes() == (tmp_path / "b" / "prompts.jsonl").read_bytes()
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()
    ds = load_from_disk(str(tmp_path / "a" / "dataset"))
    assert len(ds) == 24 and ds[0]["prompt"] == read(tmp_path / "a")[0]["prompt"]
    # building again into the same folder with the same config changes nothing
    assert build_symbol_mixture(MixtureConfig(**SMALL), tmp_path / "a", load=toy_loader).already_built
    # a folder built before class_counts, flipped_share and exemplar_choice existed (its manifest lacks them) is
    # the same mixture; one built with another value of a later field is not
    manifest = tmp_path / "a" / "manifest.json"
    data = json.loads(manifest.read_text())
    for later in ("class_counts", "flipped_share", "exemplar_choice", "similar_pool", "similar_share"):
        del data["config"][later]
    manifest.write_text(json.dumps(data))
    assert build_symbol_mixture(MixtureConfig(**SMALL), tmp_path / "a", load=toy_loader).already_built
    with pytest.raises(TaskmixError, match="different config"):
        build_symbol_mixture(MixtureConfig(**SMALL, flipped_share=0.5), tmp_path / "a", load=toy_loader)


def test_max_length_too_short_is_an_error_and_leaves_nothing(toy_loader, tmp_path):
    with pytest.raises(TaskmixError, match="task .toy. yields no prompt: none of its 40 queries tried fits max_length 20 with 2 exemplar"):
        build_symbol_mixture(MixtureConfig(**dict(SMALL, max_length=20)), tmp_path / "m", load=toy_loader)
    assert not (tmp_path / "m").exists() and not list(tmp_path.iterdir())


def test_build_cli_bad_inputs(tmp_path, capsys):
    def err():
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("taskmix:")]
        assert len(lines) == 1
        return lines[0]

    cfg = tmp_path / "mix.yaml"
    cfg.write_text("tasks: [sst2, tweeteval/hate]\n")
    assert main(["build", "symbol", "--config", str(cfg), "--out", str(tmp_path / "m")]) != 0
    assert "'tweeteval/hate' is held out for evaluation" in err()
    assert main(["build", "symbol", "--out", str(tmp_path / "m"), "--extra-tasks", "subj"]) != 0
    assert "'subj' is held out for evaluation" in err()
    cfg.write_text("tasks: []\n")
    assert main(["build", "symbol", "--config", str(cfg), "--out", str(tmp_path / "m")]) != 0
    assert "tasks must name at least one task" in err()
    cfg.write_text("tasks: [sst2]\nmax_exemplars_per_class: 1\n")
    assert main(["build", "symbol", "--config", str(cfg), "--out", str(tmp_path / "m")]) != 0
    assert "max_exemplars_per_class must be >= min_exemplars_per_class" in err()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert main(["build", "symbol", "--tasks", "sst2", "--out", str(tmp_path / "full")]) != 0
    assert "exists and is not a mixture folder" in err()
    assert not (tmp_path / "m").exists()


def test_a_query_too_long_to_fit_is_skipped_and_counted_not_fatal(toy_loader, tmp_path, capsys):
    from dataclasses import replace

    from taskmix.records import Example, Split

    toy = toy_loader("toy")
    train = list(toy.split("train"))
    long = Example(train[5].uid, (("text", "word " * 500),), label=train[5].label)
    train[5] = long
    task = replace(toy, splits=(Split("train", tuple(train)),) + tuple(s for s in toy.splits if s.name != "train"))
    config = MixtureConfig(**dict(SMALL, tasks=("toy",), per_task_cap=1000))
    result = build_symbol_mixture(config, tmp_path / "m", load=lambda name: task)
    rows = read(tmp_path / "m")
    assert long.uid not in {r["uid"].split(":", 1)[1] for r in rows}
    assert dict(result.skipped)["toy"] >= 1 and result.n_prompts == len(train) - dict(result.skipped)["toy"]
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["tasks"]["toy"]["skipped_too_long"] == dict(result.skipped)["toy"]
    # the segments of every record are its composer spans: labels sit where the record says
    for r in rows[:5]:
        labels = [s for s in r["segments"] if s["kind"] == "exemplar_label"]
        assert labels and all(r["prompt"][s["start"]:s["end"]].startswith(" ") for s in labels)
        assert labels[0]["inferable"] is False
