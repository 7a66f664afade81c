"""NIV2 (both forms) and promptsource / P3 loaders."""

from __future__ import annotations

import pytest

from taskmix.errors import DataError, TaskmixError
from taskmix.loaders import niv2, promptsource
from taskmix.loaders.promptsource_templates import PromptTemplate, parse_templates, template_instruction
from taskmix.loaders.jinja_sandbox import render
from taskmix.records import Example, Split, Task


def test_niv2_metadata_has_1654_tasks_with_flan_categories(mirror):
    names = niv2.task_names(mirror)
    assert len(names) == 1654
    t = niv2.load("niv2/task363_sst2_polarity_classification", mirror)
    assert t.category == "Sentiment Analysis" and t.source_dataset == "sst2"
    assert t.instruction.startswith("In this task, you are given sentences from movie reviews.")
    assert niv2.is_english(t) and t.meta("number_examples") == "6495"
    assert len(t.split("train")) == 1 and t.split("test") == ()


def test_niv2_hyphenated_names_match_flan_rows(mirror):
    t = niv2.load("niv2/task316_crows-pairs_classification_stereotype", mirror)
    assert t.source_dataset == "crows_pairs" and t.category is not None


def test_niv2_english_filter(mirror):
    tasks = niv2.load_all(mirror)
    english = niv2.load_all(mirror, english_only=True)
    assert len(tasks) == 1654
    assert 900 < len(english) < 1100
    assert all(t.meta("languages") == "English" for t in english)


def test_niv2_upstream_fixture(niv2_fixture_root):
    names = niv2.task_names(niv2_fixture_root)
    assert names == [
        "niv2/task9001_toy_sentiment_classification",
        "niv2/task9002_toy_question_generation",
        "niv2/task9003_toy_translation_en_de",
    ]
    t = niv2.load(names[0], niv2_fixture_root)
    assert t.category == "Sentiment Analysis" and t.source_dataset == "toy_reviews"
    assert [e.target for e in t.split("train")] == ["POS", "NEG"]
    assert [e.target for e in t.split("test")] == ["POS", "NEG", "POS"]
    q = niv2.load(names[1], niv2_fixture_root)
    assert q.split("test")[0].target == "What boils at 100 degrees Celsius at sea level?"
    english = [t.name for t in niv2.load_all(niv2_fixture_root, english_only=True)]
    assert english == names[:2]  # the translation task outputs German


def test_niv2_malformed_upstream_file(tmp_path):
    p = tmp_path / "task1_bad.json"
    p.write_text('{"Definition": ["x"]}')
    with pytest.raises(DataError, match="missing 'Instances'"):
        niv2.load_task_file(p)
    with pytest.raises(TaskmixError):
        niv2.task_names(tmp_path)


def test_p3_names_cover_every_templates_file(mirror):
    names = promptsource.task_names(mirror)
    assert len(names) == 279
    assert {"p3/glue/sst2", "p3/super_glue/rte", "p3/tweet_eval/hate", "p3/ag_news"} <= set(names)


def test_p3_instructions_from_templates(mirror):
    t = promptsource.load("p3/glue/sst2", mirror)
    assert "[sentence] Question: Was that sentence positive or negative? Answer:" in t.instructions
    assert len(t.instructions) == 5
    ag = promptsource.load("p3/ag_news", mirror)
    assert any("Options: World politics, Sports, Business, Science and technology" in i for i in ag.instructions)


def test_template_instruction_hand_values():
    t = PromptTemplate(
        id="x", name="x", jinja='Is "{{ text | trim }}" {{"rude"}}?{% if a %} yes{% endif %} ||| {{answer_choices[label]}}',
        answer_choices="no ||| yes",
    )
    assert template_instruction(t) == 'Is "[text]" rude? yes Options: no, yes'


def test_safe_yaml_rejects_python_tags():
    bad = "dataset: x\ntemplates:\n  a: !!python/object/apply:os.system ['echo hi']\n"
    with pytest.raises(DataError, match="invalid templates YAML"):
        parse_templates(bad)
    with pytest.raises(DataError, match="not a !Template"):
        parse_templates("dataset: x\ntemplates:\n  a: 3\n")


@pytest.mark.parametrize(
    "source",
    ["{{ text.__class__.__mro__ }}", "{{ cycler.__init__.__globals__ }}", '{% include "/etc/passwd" %}',
     "{{ lipsum.__globals__['os'] }}"],
)
def test_sandbox_blocks_escapes(source):
    with pytest.raises(TaskmixError, match="sandbox"):
        render(source, {"text": "hi"})


def test_render_and_apply_templates_on_a_held_style_task(mirror):
    collection = promptsource.templates_of("glue/sst2", mirror)
    task = Task(
        name="sst2", source="classic", instructions=(), input_fields=("sentence",),
        label_space=("negative", "positive"),
        splits=(Split("test", (Example("a", (("sentence", "a fine film"),), label=1),
                               Example("b", (("sentence", "dull"),), label=0))),),
    )
    (split,) = promptsource.apply_templates(collection, task, promptsource.HELD["glue/sst2"], "p3/glue/sst2")
    assert [e.uid for e in split.examples] == ["a", "b"]
    assert "a fine film" in split.examples[0].get("input")
    assert split.examples[0].target in {"positive", "happy", "good"}
    assert split.examples[1].target in {"negative", "sad", "bad"}
    bad = Task(name="x", source="c", instructions=(), input_fields=("s",), label_space=("meh", "positive"), splits=())
    with pytest.raises(TaskmixError, match="label 'meh' has no match"):
        promptsource.apply_templates(collection, bad, promptsource.HELD["glue/sst2"], "p3/glue/sst2")


def test_unheld_p3_dataset_has_empty_splits(mirror):
    t = promptsource.load("p3/acronym_identification", mirror)
    assert t.meta("examples") == "not held"
    assert all(len(s) == 0 for s in t.splits) and t.instructions


def test_p3_renders_a_held_tweeteval_dataset(mirror):
    pytest.importorskip("taskmix.loaders.tweeteval")
    t = promptsource.load("p3/tweet_eval/irony", mirror)
    assert t.meta("examples") == "rendered from tweeteval/irony"
    test = t.split("test")
    assert len(test) == 784
    assert all(e.target for e in test) and all(e.get("input") for e in test)
    from taskmix.catalogue import load_task

    raw = {e.uid: e for e in load_task("tweeteval/irony", mirror).split("test")}
    for e in test:
        ironic = raw[e.uid].label == 1  # label space ('literal', 'ironic')
        assert e.target in ({"yes", "irony"} if ironic else {"no", "non-irony"}), (e.uid, e.target)
