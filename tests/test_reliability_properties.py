"""Property tests (hypothesis) of the prompt builder and symbol remapping, beyond
tests/test_prompts_builder.py: random task contents with duplicate and near-duplicate
inputs, the evaluated example drawn from the exemplar split itself, a full
reconstruction of every prompt from its label map, independence from batching and
order, byte-identical prompts across processes, and the symbol-tuning mixture never
showing an evaluation-pool symbol.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from taskmix.errors import TaskmixError
from taskmix.prompts.builder import SETTING_NAMES, PromptOptions, build_prompt, build_prompts, setting_applies
from taskmix.prompts.formats import FORMAT_NAMES, demonstration_block, get_format
from taskmix.records import Example, Split, Task
from taskmix.symbols import symbol_pool
from tests.plugins.reliability import subprocess_env

EVAL_SYMBOLS = frozenset(symbol_pool("eval"))
TUNING_SYMBOLS = frozenset(symbol_pool("tuning"))
LABEL_WORDS = ("negative", "positive", "neutral", "mixed")
# few distinct words, so that inputs repeat, also with other case and spacing
WORDS = st.sampled_from(["good", "Good", "bad", "film", "plot", "  dull", "fine ", "odd"])
TEXT = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)


@st.composite
def tasks(draw, max_classes: int = 4):
    """A classification task whose train split holds 1-6 examples per class and whose
    test split repeats some train inputs under other uids."""
    n_classes = draw(st.integers(2, max_classes))
    n_fields = draw(st.integers(1, 2))
    fields = ("premise", "hypothesis")[:n_fields]
    train = []
    for label in range(n_classes):
        for j in range(draw(st.integers(1, 6))):
            texts = tuple((f, draw(TEXT)) for f in fields)
            train.append(Example(f"tr-{label}-{j}", texts, label=label))
    test = []
    for i in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):  # a repeat of a train input (maybe re-spaced / re-cased)
            src = train[draw(st.integers(0, len(train) - 1))]
            texts = tuple((f, "  " + v.upper() if draw(st.booleans()) else v) for f, v in src.fields)
        else:
            texts = tuple((f, draw(TEXT)) for f in fields)
        test.append(Example(f"te-{i}", texts, label=draw(st.integers(0, n_classes - 1))))
    return Task("prop", "test", ("Label the text.",), fields, LABEL_WORDS[:n_classes],
                (Split("train", tuple(train)), Split("test", tuple(test))))


def _key(e: Example) -> tuple[str, ...]:
    return tuple(" ".join(t.split()).lower() for t in e.texts)


def _check_prompt(task: Task, ex: Example, setting: str, p, k: int) -> None:
    labels = task.label_space
    train = {e.uid: e for e in task.split("train")}
    # the evaluated example -- by uid or by (normalised) input -- is never an exemplar
    assert ex.uid not in p.exemplar_uids
    assert all(_key(train[u]) != _key(ex) for u in p.exemplar_uids)
    assert len(p.exemplar_uids) == k * len(labels) and len(set(p.exemplar_uids)) == len(p.exemplar_uids)
    assert sorted(train[u].label for u in p.exemplar_uids) == sorted(list(range(len(labels))) * k)
    mapping = dict(p.label_map)
    assert tuple(mapping) == labels
    shown = tuple(mapping.values())
    # the whole text is the instruction, each exemplar with its mapped label, then the query
    fmt = get_format(p.format_name)
    instruction = task.instruction if setting.startswith("instr") else ""
    rendered = [fmt.render_example(train[u].fields, mapping[labels[train[u].label]]) for u in p.exemplar_uids]
    assert p.text == demonstration_block(fmt, instruction, rendered) + fmt.render_query(ex.fields)
    if "symbols" in setting:
        assert set(shown) <= EVAL_SYMBOLS and not set(shown) & TUNING_SYMBOLS
        assert len(set(shown)) == len(labels)
        assert not {s.lower() for s in shown} & {lab.lower() for lab in labels}
        assert p.candidates == tuple(" " + s for s in shown) and p.answer == ex.label
    elif setting == "flipped":
        assert shown == (labels[1], labels[0])
        for u in p.exemplar_uids:  # every exemplar shows the other label
            assert mapping[labels[train[u].label]] == labels[1 - train[u].label]
        assert p.candidates == (" " + labels[0], " " + labels[1]) and p.answer == 1 - ex.label
    else:
        assert shown == labels and p.answer == ex.label


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=tasks(), setting=st.sampled_from(SETTING_NAMES), k=st.integers(1, 3), seed=st.integers(0, 2**40),
       fmt=st.sampled_from(FORMAT_NAMES + ("random",)), from_train=st.booleans(), which=st.integers(0, 20))
def test_prompt_is_its_label_map_applied_and_never_shows_the_query(task, setting, k, seed, fmt, from_train, which):
    assume(setting_applies(task, setting))
    pool = task.split("train") if from_train else task.split("test")
    ex = pool[which % len(pool)]  # from_train: the evaluated example is itself in the exemplar split
    options = PromptOptions(k=k, format=fmt)
    try:
        p = build_prompt(task, ex, setting, options, seed=seed)
    except TaskmixError as e:
        # only when some class has fewer than k usable exemplars once the query is excluded
        assert "lower --k" in str(e)
        groups = [[e2 for e2 in task.split("train") if e2.label == c and e2.uid != ex.uid and _key(e2) != _key(ex)]
                  for c in range(len(task.label_space))]
        assert min(len(g) for g in groups) < k
        return
    _check_prompt(task, ex, setting, p, k)
    assert build_prompt(task, ex, setting, options, seed=seed) == p  # same seed, same bytes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=tasks(), setting=st.sampled_from(SETTING_NAMES), seed=st.integers(0, 2**40))
def test_a_prompt_does_not_depend_on_the_batch_or_order_it_is_built_in(task, setting, seed):
    assume(setting_applies(task, setting))
    options = PromptOptions(k=1)
    examples = task.split("test")
    try:
        forward = build_prompts(task, examples, setting, options, seed)
    except TaskmixError:
        return
    backward = build_prompts(task, examples[::-1], setting, options, seed)
    assert forward == backward[::-1]
    assert forward[-1:] == build_prompts(task, examples[-1:], setting, options, seed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=tasks(), setting=st.sampled_from(SETTING_NAMES), seed=st.integers(0, 2**40))
def test_shared_demos_never_show_any_evaluated_input(task, setting, seed):
    assume(setting_applies(task, setting))
    examples = task.split("test")
    try:
        prompts = build_prompts(task, examples, setting, PromptOptions(k=1, shared_demos=True), seed)
    except TaskmixError as e:
        assert "lower --k" in str(e)
        return
    # one shared set, unless the queries leave a class without exemplars: then the set is
    # split in parts, each showing none of its own queries
    parts: dict[str, list] = {}
    for p, ex in zip(prompts, examples):
        parts.setdefault(p.demo_set, []).append(ex)
    assert set(parts) == {"shared"} or all(d.startswith("shared.") for d in parts)
    train = {e.uid: e for e in task.split("train")}
    for p, ex in zip(prompts, examples):
        members = parts[p.demo_set]
        evaluated = {e.uid for e in members} | {_key(e) for e in members}
        assert len({q.prefix for q in prompts if q.demo_set == p.demo_set}) == 1
        assert p.text == p.prefix + get_format(p.format_name).render_query(ex.fields)
        for u in p.exemplar_uids:
            assert u not in evaluated and _key(train[u]) not in evaluated
        _check_prompt(task, ex, setting, p, 1)


# A fixed workload whose prompts are hashed; run in fresh interpreters with different
# hash randomisation, the digest must not change.
DIGEST_SCRIPT = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from tests.plugins.eval import make_classification_task
from taskmix.prompts.builder import SETTING_NAMES, PromptOptions, build_prompts, setting_applies
h = hashlib.sha256()
for labels in (("negative", "positive"), ("a", "b", "c")):
    task = make_classification_task(n_train=30, n_test=8, labels=labels, fields=("premise", "hypothesis"))
    for setting in SETTING_NAMES:
        if setting_applies(task, setting):
            for seed in (0, 1, 12345):
                for shared in (False, True):
                    for p in build_prompts(task, task.split("test"), setting, PromptOptions(k=2, shared_demos=shared), seed):
                        h.update(repr(p).encode())
print(h.hexdigest())
"""


def test_same_seed_gives_byte_identical_prompts_in_other_processes(tmp_path):
    root = str(Path(__file__).resolve().parents[1])
    digests = set()
    for hashseed in ("0", "1", "random"):
        env = subprocess_env(tmp_path / "cache", PYTHONHASHSEED=hashseed)
        out = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT, root], env=env, capture_output=True, text=True,
                             timeout=120, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


# --------------------------------------------------------------------------- symbol-tuning mixtures


def _exemplar_labels(prompt: str, fmt_name: str) -> list[str]:
    """The label shown after each exemplar's output prefix (symbols have no spaces)."""
    fmt = get_format(fmt_name)
    return re.findall(re.escape(fmt.output_prefix) + r" (\S+)(?=" + re.escape(fmt.example_sep) + ")", prompt)


def _check_mixture_row(row: dict, task: Task) -> None:
    target = row["target"].strip()
    labels = _exemplar_labels(row["prompt"], row["format"])
    assert len(labels) == row["n_exemplars"]
    shown = set(labels) | {target}
    if row["kind"] == "symbol":
        assert shown <= TUNING_SYMBOLS, shown - TUNING_SYMBOLS
        assert not shown & EVAL_SYMBOLS  # evaluation symbols never appear in tuning data
        assert len(set(labels)) <= len(task.label_space)
        assert not {x.lower() for x in shown} & {lab.lower() for lab in task.label_space}
    else:
        assert shown <= set(task.label_space)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), query=st.integers(0, 39), three=st.booleans(), share=st.sampled_from([0.0, 0.5]),
       kind=st.sampled_from(["", "integer", "letters", "word"]))
def test_mixture_prompt_maps_each_class_to_one_tuning_symbol(seed, query, three, share, kind):
    from taskmix.mixture.config import MixtureConfig
    from taskmix.mixture.symbol import make_prompt, plan_task
    from taskmix.prompts.compose import TokenCounter
    from tests.plugins.training import make_tiny_task

    task = make_tiny_task("toy3", n=45, labels=("entailment", "neutral", "contradiction"), two_fields=True) if three \
        else make_tiny_task("toy")
    config = MixtureConfig(tasks=(task.name,), per_task_cap=50, max_length=2000, seed=seed, instruction_share=share,
                           symbol_kind=kind)
    plan = plan_task(task, "train")
    p = make_prompt(plan, query, config, TokenCounter(chars_per_token=4.0))
    assert p is not None
    row = p.to_json()
    _check_mixture_row(row, task)
    # the same class is always shown with the same symbol, and the target is the query's
    by_text = {e.get(task.input_fields[0]): e.label for e in plan.examples}
    fmt = get_format(p.format_name)
    blocks = re.findall(r"(?:Premise: |" + re.escape(fmt.input_prefix + " ") + r")(\w+ story number \d+)", p.prompt)
    labels = _exemplar_labels(p.prompt, p.format_name)
    classes = [by_text[b.strip()] for b in blocks[:-1]]
    assert len(classes) == len(labels)
    symbol_of = {}
    for c, s in zip(classes, labels):
        assert symbol_of.setdefault(c, s) == s
    assert len(set(symbol_of.values())) == len(symbol_of)
    q = plan.examples[query]
    assert blocks[-1].strip() == q.get(task.input_fields[0])  # the query comes last, once
    assert [b.strip() for b in blocks].count(q.get(task.input_fields[0])) == 1
    if q.label in symbol_of:
        assert p.target.strip() == symbol_of[q.label]
    if kind and p.kind == "symbol":
        from taskmix.symbols import symbol_kind

        assert {symbol_kind(s) for s in labels + [p.target.strip()]} == {kind}


def test_built_mixture_from_real_tasks_shows_no_evaluation_symbol(mirror_data_root, tmp_path, monkeypatch):
    from taskmix.catalogue import load_task
    from taskmix.mixture.build import build_symbol_mixture
    from taskmix.mixture.config import MixtureConfig

    monkeypatch.setenv("TASKMIX_CACHE", str(mirror_data_root.parent / "cache-props"))
    names = ("sst2", "trec", "rte", "tweeteval/offensive")
    config = MixtureConfig(tasks=names, per_task_cap=150, instruction_share=0.2, seed=3)
    result = build_symbol_mixture(config, tmp_path / "mix")
    tasks = {n: load_task(n) for n in names}
    rows = [json.loads(line) for line in (tmp_path / "mix" / "prompts.jsonl").read_text().splitlines()]
    assert len(rows) == result.n_prompts == 600
    assert sum(r["kind"] == "symbol" for r in rows) > 400
    for row in rows:
        _check_mixture_row(row, tasks[row["task"]])


@settings(max_examples=10, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), labels=st.lists(st.integers(0, 1), min_size=24, max_size=24),
       texts=st.lists(st.sampled_from(["red", "green", "blue", "cyan"]), min_size=24, max_size=24))
def test_mixture_query_input_is_never_its_own_exemplar(seed, labels, texts):
    from taskmix.mixture.config import MixtureConfig
    from taskmix.mixture.symbol import make_prompt, plan_task
    from taskmix.prompts.compose import TokenCounter

    examples = tuple(Example(f"d{i}", (("sentence", t),), label=lab) for i, (t, lab) in enumerate(zip(texts, labels)))
    assume(len(set(labels)) == 2)
    task = Task("dups", "test", ("Classify.",), ("sentence",), ("no", "yes"), (Split("train", examples),))
    config = MixtureConfig(tasks=("dups",), max_length=4000, seed=seed, min_exemplars_per_class=2, max_exemplars_per_class=4)
    plan = plan_task(task, "train")
    for q in range(len(examples)):
        p = make_prompt(plan, q, config, TokenCounter(chars_per_token=4.0))
        assert p is not None
        query_input = get_format(p.format_name).render_input(examples[q].fields)
        assert p.prompt.count(query_input) == 1, (q, p.prompt)
