"""Exported lm-evaluation-harness tasks reproduce taskmix's accuracy with the same model."""

import json

import pytest

from taskmix.cli import main
from taskmix.export.lm_eval import lm_eval_task_name


def test_task_names_are_valid_identifiers():
    assert lm_eval_task_name("taskmix", "tweeteval/stance_abortion", "noinstr_symbols") == "taskmix_tweeteval_stance_abortion_noinstr_symbols"


def test_export_bad_input_is_one_line(tmp_path, capsys):
    assert main(["export", "lm-eval", "--tasks", "no-such-task", "--out", str(tmp_path)]) != 0
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["export", "lm-eval", "--tasks", "subj", "--model", str(tmp_path / "nope"), "--out", str(tmp_path)]) != 0
    assert "nope" in capsys.readouterr().err


@pytest.mark.slow
def test_lm_eval_on_an_exported_task_matches_taskmix_eval(tmp_path, smollm2_dir):
    pytest.importorskip("lm_eval")
    common = ["--tasks", "subj", "--settings", "noinstr_symbols", "--k", "1", "--max-examples", "12", "--seed", "5",
              "--model", str(smollm2_dir)]
    assert main(["export", "lm-eval", *common, "--out", str(tmp_path / "export")]) == 0
    yaml_files = sorted((tmp_path / "export").glob("taskmix_subj_*.yaml"))
    assert [p.stem for p in yaml_files] == ["taskmix_subj_noinstr_symbols"]

    assert main(["eval", *common, "--out", str(tmp_path / "ours"), "--no-plots", "--no-progress"]) == 0
    ours = json.loads((tmp_path / "ours" / "results.json").read_text())["scores"][0]["accuracy"]

    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    res = simple_evaluate(
        model="hf", model_args=f"pretrained={smollm2_dir},dtype=float32", tasks=["taskmix_subj_noinstr_symbols"],
        task_manager=TaskManager(include_path=str(tmp_path / "export")), batch_size=4, device="cpu",
    )
    theirs = res["results"]["taskmix_subj_noinstr_symbols"]["acc,none"]
    assert theirs == pytest.approx(ours, abs=1e-9), (theirs, ours)
