import json

import pytest

from taskmix.errors import TaskmixError
from taskmix.pipeline.stages import StageRunner, stage_key


def _writer(calls):
    def work(d):
        calls.append(d.name)
        (d / "out.txt").write_text("x")
        return "made"
    return work


def test_stage_key_is_canonical():
    assert stage_key({"a": 1, "b": [1, 2]}) == stage_key({"b": (1, 2), "a": 1})
    assert stage_key({"a": 1}) != stage_key({"a": 2})


def test_a_field_added_later_leaves_the_key_of_older_runs_alone():
    import dataclasses

    from taskmix.config import KEY_NEUTRAL, key_dict, to_dict
    from taskmix.mixture.config import MixtureConfig

    # the build key of an equal-count mixture made before class_counts, flipped_share and
    # exemplar_choice / similar_pool / similar_share existed (its material had no such fields)
    later = ("class_counts", "flipped_share", "exemplar_choice", "similar_pool", "similar_share")
    old = {k: v for k, v in to_dict(MixtureConfig(max_length=512)).items() if k not in later}
    assert stage_key(key_dict(MixtureConfig(max_length=512))) == stage_key(old)
    assert key_dict(MixtureConfig(max_length=512, class_counts="independent"))["class_counts"] == "independent"
    assert key_dict(MixtureConfig(max_length=512, flipped_share=0.5))["flipped_share"] == 0.5
    assert key_dict(MixtureConfig(max_length=512, exemplar_choice="similar"))["exemplar_choice"] == "similar"
    assert key_dict(MixtureConfig(max_length=512, exemplar_choice="similar", similar_pool=64))["similar_pool"] == 64
    assert key_dict(MixtureConfig(max_length=512, exemplar_choice="similar", similar_share=0.5))["similar_share"] == 0.5
    assert to_dict(MixtureConfig())["class_counts"] == "equal"  # what is written down keeps every field

    @dataclasses.dataclass(frozen=True)
    class Inner:
        n: int = dataclasses.field(default=0, metadata={KEY_NEUTRAL: 0})

    @dataclasses.dataclass(frozen=True)
    class Outer:
        inner: tuple = (Inner(), Inner(2))

    assert key_dict(Outer()) == {"inner": [{}, {"n": 2}]}  # also inside nested records


def test_rerun_skips_done_stage(tmp_path):
    calls = []
    runner = StageRunner(tmp_path, log=lambda s: None)
    assert runner.run("build", {"n": 1}, _writer(calls), lambda d: "loaded")[0] == "made"
    assert runner.run("build", {"n": 1}, _writer(calls), lambda d: "loaded")[0] == "loaded"
    assert calls == ["build"]


def test_changed_inputs_keep_old_outputs(tmp_path):
    calls = []
    runner = StageRunner(tmp_path, log=lambda s: None)
    runner.run("build", {"n": 1}, _writer(calls), lambda d: "loaded")
    runner.run("build", {"n": 2}, _writer(calls), lambda d: "loaded")
    assert calls == ["build", "build"]
    previous = [p for p in tmp_path.iterdir() if p.name.startswith("build.previous-")]
    assert len(previous) == 1 and (previous[0] / "out.txt").is_file()


def test_interrupted_stage_resumes(tmp_path):
    runner = StageRunner(tmp_path, log=lambda s: None)

    def crash(d):
        (d / "partial").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run("train", {"n": 1}, crash, lambda d: None)
    assert json.loads((tmp_path / "train" / "stage.json").read_text())["status"] == "running"
    seen = []

    def resume(d):
        seen.append((d / "partial").read_text())
        return "ok"

    assert runner.run("train", {"n": 1}, resume, lambda d: None)[0] == "ok"
    assert seen == ["half"]


def test_foreign_folder_is_refused(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "results.json").write_text("{}")
    with pytest.raises(TaskmixError, match="not written by a taskmix stage"):
        StageRunner(tmp_path, log=lambda s: None).run("eval", {}, lambda d: 1, lambda d: 1)


def test_corrupt_marker_is_one_line(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "stage.json").write_text("{not json")
    with pytest.raises(TaskmixError, match="corrupt stage record"):
        StageRunner(tmp_path, log=lambda s: None).run("eval", {}, lambda d: 1, lambda d: 1)
