"""What a new user meets (issue 15): hostile and unusual input across the commands.

Each case is refused in one line with a non-zero exit and nothing lost, or, where the
input is unusual but valid, works. The numbers refer to the items of the issue.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskmix.cli import main
from taskmix.config import load_yaml
from taskmix.errors import ConfigError, TaskmixError
from taskmix.pipeline.experiment import load_experiment
from tests.plugins.reliability import ROOT, subprocess_env, taskmix_cmd
from tests.plugins.training import write_tiny_mixture


def one_line_error(capsys, argv: list[str], pattern: str, code: int = 2) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == code, (rc, err)
    assert err.count("\n") == 1 and "error:" in err, err
    assert pattern in err, err
    assert "Traceback" not in err
    return err


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows(n: int = 30, labels: tuple[str, ...] = ("negative", "positive")) -> list[dict]:
    return [{"text": f"row {i} is {'good' if i % 2 else 'bad'}", "label": labels[i % len(labels)]} for i in range(n)]


def eval_argv(tasks: str, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", "fake", "--tasks", tasks, "--k", "2", "--max-examples", "4", "--out", str(out),
            "--no-progress", "--no-plots", *extra]


# ---------------------------------------------------------------- 1. same base name


def test_two_task_files_with_one_base_name_are_refused_not_dropped(tmp_path, fake_engine, capsys):
    a, b = write_rows(tmp_path / "a" / "good.jsonl", rows()), write_rows(tmp_path / "b" / "good.jsonl", rows())
    out = tmp_path / "run"
    one_line_error(capsys, eval_argv(f"{a},{b}", out), "would both be the task 'good'")
    csv, tsv = tmp_path / "data.csv", tmp_path / "data.tsv"
    csv.write_text("text,label\n" + "".join(f"row {i},{'xy'[i % 2]}\n" for i in range(20)))
    tsv.write_text("text\tlabel\n" + "".join(f"row {i}\t{'xy'[i % 2]}\n" for i in range(20)))
    one_line_error(capsys, eval_argv(f"{csv},{tsv}", out), "would both be the task 'data'")
    assert not out.exists() and fake_engine.loads == 0
    # the same file named twice is one task, as before
    assert main(eval_argv(f"{a},{a}", out)) == 0
    assert {s["task"] for s in json.loads((out / "results.json").read_text())["scores"]} == {"good"}


# ---------------------------------------------------------------- 2. one class, empty label


def test_a_task_needs_two_non_empty_labels(tmp_path, fake_engine, capsys):
    one = write_rows(tmp_path / "one.jsonl", rows(labels=("positive",)))
    one_line_error(capsys, eval_argv(str(one), tmp_path / "o"), "needs at least two labels")
    blank = write_rows(tmp_path / "blank.jsonl", rows(labels=("positive", "")))
    one_line_error(capsys, eval_argv(str(blank), tmp_path / "o"), "blank.jsonl:2: empty label")
    assert fake_engine.loads == 0


# ---------------------------------------------------------------- 3. train.max_length


def test_training_refuses_a_max_length_that_cuts_most_prompts(train_tiny_model, tmp_path, capsys):
    mixture = write_tiny_mixture(tmp_path / "mix")
    out = tmp_path / "run"
    one_line_error(capsys, ["train", "--model", str(train_tiny_model), "--data", str(mixture), "--out", str(out),
                            "--steps", "2", "--batch-size", "4", "--no-progress", "--max-length", "16"],
                   "48 of 48 training examples are longer than max_length 16")
    assert not (out / "model").exists()


def test_training_warns_with_counts_when_few_prompts_are_cut(train_tiny_model, tmp_path, capsys):
    mixture = write_tiny_mixture(tmp_path / "mix")
    long = {"uid": "long", "task": "tiny", "kind": "symbol", "format": "io",
            "prompt": "Input: " + "a very long film review " * 60 + "\nOutput:", "target": " foo"}
    with (mixture / "prompts.jsonl").open("a") as f:
        f.write(json.dumps(long) + "\n")
    assert main(["train", "--model", str(train_tiny_model), "--data", str(mixture), "--out", str(tmp_path / "run"),
                 "--steps", "2", "--batch-size", "4", "--no-progress", "--max-length", "256"]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 of 49 training examples are longer than max_length 256" in err


def test_experiment_refuses_train_max_length_below_build_max_length(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text("name: x\nbuild: {max_length: 512}\ntrain: {max_length: 256}\neval: {tasks: [subj]}\n")
    with pytest.raises(ConfigError, match="train.max_length 256 is shorter than build.max_length 512"):
        load_experiment(path)
    path.write_text("name: x\nbuild: {max_length: 512}\ntrain: {max_length: 512}\neval: {tasks: [subj]}\n")
    assert load_experiment(path).train_config().max_length == 512


# ---------------------------------------------------------------- 5. empty input


def test_empty_config_files_and_task_lists_are_refused(tmp_path, fake_engine, capsys):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    out = tmp_path / "o"
    one_line_error(capsys, ["eval", "--config", str(empty), "--model", "m", "--out", str(out)], "empty config file")
    one_line_error(capsys, ["run", str(empty)], "empty config file")
    one_line_error(capsys, ["build", "symbol", "--config", str(empty), "--out", str(out)], "empty config file")
    one_line_error(capsys, ["train", "--config", str(empty), "--model", "m", "--data", "d", "--out", str(out)],
                   "empty config file")
    for tasks in ("", ",,", " , "):
        one_line_error(capsys, ["eval", "--model", "m", "--tasks", tasks, "--out", str(out)], "names nothing")
        one_line_error(capsys, ["export", "lm-eval", "--tasks", tasks, "--out", str(out)], "names nothing")
    one_line_error(capsys, ["build", "symbol", "--tasks", "", "--out", str(out)], "empty task name")
    assert not out.exists() and fake_engine.loads == 0


# ---------------------------------------------------------------- 6. nothing done


def test_nothing_to_evaluate_is_an_error(tmp_path, fake_engine, capsys):
    three = write_rows(tmp_path / "three.jsonl", rows(labels=("a", "b", "c")))
    one_line_error(capsys, eval_argv(str(three), tmp_path / "o", "--settings", "flipped"), "nothing to evaluate")
    assert fake_engine.loads == 0 and not (tmp_path / "o").exists()


def test_compare_of_unrelated_runs_or_a_run_without_predictions_fails(tmp_path, fake_engine, capsys):
    a = write_rows(tmp_path / "first.jsonl", rows())
    b = write_rows(tmp_path / "second.jsonl", rows())
    assert main(eval_argv(str(a), tmp_path / "ra")) == 0
    assert main(eval_argv(str(b), tmp_path / "rb")) == 0
    capsys.readouterr()
    one_line_error(capsys, ["compare", str(tmp_path / "ra"), str(tmp_path / "rb")], "nothing to compare")
    assert main(eval_argv(str(a), tmp_path / "rc", "--length-normalized")) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "ra"), str(tmp_path / "rc")]) == 0
    capsys.readouterr()
    (tmp_path / "rc" / "predictions.jsonl").unlink()
    one_line_error(capsys, ["compare", str(tmp_path / "ra"), str(tmp_path / "rc")], "no predictions.jsonl")


# ---------------------------------------------------------------- 7. YAML bombs, huge values

LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]" for p, c in zip("abcdef", "bcdefg")]
    + ["model: *g", "out: o", "name: *g", "eval: *g"]
) + "\n"


def test_yaml_alias_bombs_are_refused_quickly_in_one_short_line(tmp_path, capsys):
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(LAUGHS)
    assert len(LAUGHS) < 700
    for argv in (["eval", "--config", str(bomb), "--out", str(tmp_path / "o")], ["run", str(bomb)]):
        start = time.perf_counter()
        err = one_line_error(capsys, argv, "YAML aliases expand to more than 100,000 values")
        assert time.perf_counter() - start < 2 and len(err) < 300
    loop = tmp_path / "loop.yaml"
    loop.write_text("x: &x [*x]\n")
    with pytest.raises(ConfigError, match="refers to itself"):
        load_yaml(loop)
    small = tmp_path / "aliases.yaml"  # ordinary aliases still work
    small.write_text("base: &b {k: 2}\nother: *b\n")
    assert load_yaml(small) == {"base": {"k": 2}, "other": {"k": 2}}


def test_error_messages_quote_a_bounded_part_of_a_huge_value(tmp_path, capsys):
    cfg = tmp_path / "big.yaml"
    cfg.write_text("model: m\nout: o\nk: '" + "9" * 2_000_000 + "'\n")
    err = one_line_error(capsys, ["eval", "--config", str(cfg)], "expected an integer")
    assert len(err) < 400
    assert len(TaskmixError("x" * 100_000).message) < 2100


# ---------------------------------------------------------------- 8. write failures

LIMIT_FSIZE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
from tests.plugins.eval import FakeModel
from taskmix.cli import build_parser, main
from taskmix.evaluation import preflight, runner
build_parser()  # the command modules bind the real functions before the patch
runner.load_eval_model = lambda config: FakeModel()
runner.check_model_spec = preflight.check_model_spec = lambda spec: None
raise SystemExit(main(sys.argv[2:]))
"""


def run_limited(limit: int, args: list[str], cache: Path) -> subprocess.CompletedProcess:
    """``taskmix args`` in a process that may write files of at most ``limit`` bytes (a
    full disk, as the process sees it: writes fail with EFBIG); the engine is the fake model."""
    return subprocess.run([sys.executable, "-c", LIMIT_FSIZE, str(limit), *args], env=subprocess_env(cache),
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_one_line(proc: subprocess.CompletedProcess, *patterns: str) -> None:
    assert proc.returncode != 0, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    for p in patterns:
        assert p in proc.stderr, proc.stderr


def test_a_full_disk_while_saving_the_final_model_is_one_line_naming_the_folder(train_tiny_model, tmp_path):
    mixture = write_tiny_mixture(tmp_path / "mix")
    out = tmp_path / "run"
    args = ["train", "--model", str(train_tiny_model), "--data", str(mixture), "--out", str(out), "--steps", "2",
            "--batch-size", "4", "--no-progress", "--max-length", "256", "--save-every", "0"]
    proc = run_limited(30_000, args, tmp_path / "cache")  # the weights (~100 kB) do not fit
    assert_one_line(proc, f"{out}: cannot write (File too large)")
    assert not (out / "model").exists() and (out / "run.json").is_file()
    done = subprocess.run(taskmix_cmd(*args), env=subprocess_env(tmp_path / "cache"), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and (out / "model" / "model.safetensors").is_file(), done.stderr


def test_a_full_disk_during_evaluation_names_the_file_and_keeps_earlier_results(tmp_path):
    task = write_rows(tmp_path / "mine.jsonl", rows(60))
    out = tmp_path / "run"
    small = eval_argv(str(task), out)
    ok = run_limited(10**9, small, tmp_path / "cache")
    assert ok.returncode == 0, ok.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bigger = eval_argv(str(task), out, "--overwrite", "--max-examples", "12", "--settings", "noinstr_labels,flipped")
    proc = run_limited(2_000, bigger, tmp_path / "cache")
    assert_one_line(proc, f"{out / 'predictions.jsonl'}: File too large")
    assert "error::" not in proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_write_failures_without_a_file_name_name_the_folder(tmp_path):
    from taskmix.fileio import write_failures

    with pytest.raises(TaskmixError, match=f"{tmp_path}: cannot write .No space left on device."):
        with write_failures(tmp_path):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(FileNotFoundError):  # other errors pass through
        with write_failures(tmp_path):
            raise FileNotFoundError(errno.ENOENT, "missing", "x")


# ---------------------------------------------------------------- 9. output folders


def test_experiment_name_cannot_leave_the_runs_folder(tmp_path):
    path = tmp_path / "e.yaml"
    for name in ("../../x", "a/b", ".hidden"):
        path.write_text(f"name: {name!r}\neval: {{tasks: [subj]}}\n")
        with pytest.raises(ConfigError, match="name must be a plain name"):
            load_experiment(path)


def test_eval_and_run_refuse_a_folder_of_another_kind(tmp_path, fake_engine, capsys):
    trained = tmp_path / "trained"
    trained.mkdir()
    (trained / "run.json").write_text("{}")
    (trained / "loss.jsonl").write_text("")
    task = write_rows(tmp_path / "mine.jsonl", rows())
    before = sorted(p.name for p in trained.iterdir())
    one_line_error(capsys, eval_argv(str(task), trained), "not an evaluation run's (e.g. loss.jsonl)")
    exp = tmp_path / "e.yaml"
    exp.write_text(f"name: x\nmodel: fake\neval: {{tasks: [{task}], k: 1, max_examples: 2}}\n")
    one_line_error(capsys, ["run", str(exp), "--out", str(trained)], "not an experiment run's")
    assert sorted(p.name for p in trained.iterdir()) == before


def test_overwrite_without_plots_removes_the_replaced_runs_plots(tmp_path, fake_engine, capsys):
    task = write_rows(tmp_path / "mine.jsonl", rows())
    out = tmp_path / "run"
    argv = ["eval", "--model", "fake", "--tasks", str(task), "--k", "1", "--max-examples", "4", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["accuracy_by_dataset.png", "accuracy_by_setting.png"]
    assert main(argv + ["--no-plots"]) == 0  # the same run: its plots still show it
    assert len(list(out.glob("*.png"))) == 2
    assert main(argv + ["--seed", "4", "--overwrite", "--no-plots"]) == 0
    assert list(out.glob("*.png")) == []


def test_export_replaces_an_earlier_export_only_when_asked_and_leaves_nothing_stale(tmp_path):
    from taskmix.export.lm_eval import export_prompts
    from taskmix.records import Prompt

    def prompts(*tasks: str) -> list[Prompt]:
        return [Prompt(task=t, example_uid=f"{t}-1", setting="noinstr_labels", text="Input: x\nOutput:",
                       candidates=(" a", " b"), answer=0) for t in tasks]

    out = tmp_path / "export"
    export_prompts(prompts("one", "two"), out)
    assert {p.name for p in out.glob("*.yaml")} == {"taskmix_one_noinstr_labels.yaml", "taskmix_two_noinstr_labels.yaml",
                                                    "taskmix_group.yaml"}
    with pytest.raises(TaskmixError, match="holds an earlier export; pass --overwrite"):
        export_prompts(prompts("one"), out)
    export_prompts(prompts("one"), out, overwrite=True)
    assert {p.name for p in out.iterdir()} == {"taskmix_one_noinstr_labels.yaml", "taskmix_one_noinstr_labels.jsonl",
                                               "taskmix_group.yaml"}
    assert str(out.resolve() / "taskmix_one_noinstr_labels.jsonl") in (out / "taskmix_one_noinstr_labels.yaml").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no temp or set-aside folder left
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("mine")
    with pytest.raises(TaskmixError, match="not an lm-eval export"):
        export_prompts(prompts("one"), other, overwrite=True)
    assert [p.name for p in other.iterdir()] == ["todo.txt"]


def test_export_cli_checks_its_folder_before_loading_a_model(tmp_path, capsys):
    out = tmp_path / "export"
    out.mkdir()
    (out / "taskmix_group.yaml").write_text("group: taskmix\n")
    one_line_error(capsys, ["export", "lm-eval", "--tasks", "subj", "--model", str(tmp_path / "no-model"),
                            "--out", str(out)], "pass --overwrite")


# ---------------------------------------------------------------- 10. consistency


def test_contradicting_or_ignored_flags_are_refused(tmp_path, capsys):
    one_line_error(capsys, ["train", "--model", "m", "--data", "d", "--out", str(tmp_path / "o"), "--lora", "--full"],
                   "not allowed with argument --lora")
    one_line_error(capsys, ["select", "--target", "subj", "--out", str(tmp_path / "enc")], "--out is for `select train-encoder`")


def test_max_context_tokens_beyond_the_models_context_is_refused(train_tiny_model, tmp_path, capsys):
    task = write_rows(tmp_path / "mine.jsonl", rows())
    one_line_error(capsys, ["eval", "--model", str(train_tiny_model), "--tasks", str(task), "--out", str(tmp_path / "o"),
                            "--max-context-tokens", "100000"], "exceeds the context length")


# ---------------------------------------------------------------- 11. messages in the user's words


def test_messages_name_what_the_user_wrote(tmp_path, capsys):
    no_eval = tmp_path / "no_eval.yaml"
    no_eval.write_text("name: x\nmodel: m\n")
    err = one_line_error(capsys, ["run", str(no_eval)], "missing key 'eval'")
    assert "__init__" not in err and "positional" not in err
    eval_only = tmp_path / "eval_only.yaml"  # no train section, no eval_models: the base model is evaluated
    eval_only.write_text("name: x\neval: {tasks: [subj]}\n")
    assert load_experiment(eval_only).eval_models == ("base",)
    one_line_error(capsys, ["eval", "--config", str(tmp_path), "--model", "m", "--out", str(tmp_path / "o")],
                   "is a folder, not a config file")
    task = write_rows(tmp_path / "mine.jsonl", rows())
    err = one_line_error(capsys, ["select", "--target", str(task)], "a file path, not a task name")
    assert "family" not in err


def test_a_corrupt_mixture_manifest_is_called_corrupt(tmp_path, capsys):
    out = tmp_path / "mix"
    out.mkdir()
    (out / "manifest.json").write_text('{"config": ')
    one_line_error(capsys, ["build", "symbol", "--tasks", "sst2", "--out", str(out)], "corrupt mixture manifest")


def test_task_files_with_a_byte_order_mark_load_and_tasks_show_reads_files(tmp_path, capsys):
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in rows(10)).encode())
    csv = tmp_path / "bomcsv.csv"
    csv.write_bytes(b"\xef\xbb\xbftext,label\n" + "".join(f"row {i},{'xy'[i % 2]}\n" for i in range(10)).encode())
    for path, labels in ((jsonl, "labels (2)"), (csv, "labels (2)")):
        assert main(["tasks", "show", str(path)]) == 0
        assert labels in capsys.readouterr().out


def test_empty_texts_are_refused_by_row(tmp_path, fake_engine, capsys):
    data = rows()
    data[3]["text"] = "   "
    path = write_rows(tmp_path / "gaps.jsonl", data)
    one_line_error(capsys, eval_argv(str(path), tmp_path / "o"), "gaps.jsonl:4: empty text in field 'text'")


def test_encoder_training_config_names_the_bad_field():
    from taskmix.selection.align import AlignConfig

    with pytest.raises(ConfigError, match="^max_pairs must be >= 1, got 0$"):
        AlignConfig(max_pairs=0)


# ---------------------------------------------------------------- 12. noise


def test_no_progress_training_prints_nothing_but_its_result(train_tiny_model, tmp_path):
    mixture = write_tiny_mixture(tmp_path / "mix")
    args = ["train", "--model", str(train_tiny_model), "--data", str(mixture), "--out", str(tmp_path / "run"),
            "--steps", "2", "--batch-size", "4", "--no-progress", "--max-length", "256", "--lora"]
    env = subprocess_env(tmp_path / "cache")
    first = subprocess.run(taskmix_cmd(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert first.stdout.startswith("trained 2 steps (last loss ")
    again = subprocess.run(taskmix_cmd(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert "already holds this finished run" in again.stdout and "trained" not in again.stdout


HELP_PAGES = ([], ["data", "fetch"], ["data", "verify"], ["tasks", "list"], ["tasks", "show"], ["model", "prepare"],
              ["model", "info"], ["symbols", "show"], ["select"], ["build", "symbol"], ["train"], ["eval"], ["compare"],
              ["run"], ["export", "lm-eval"])


def test_help_texts_cite_only_files_that_exist_and_no_python(capsys):
    import re

    texts = []
    for page in HELP_PAGES:
        assert main([*page, "--help"]) == 0
        texts.append(capsys.readouterr().out)
    cited = {m for t in texts for m in re.findall(r"configs/[\w./-]+\.yaml", t)}
    assert cited and all((ROOT / c).is_file() for c in cited), cited
    assert not any("taskmix.paths" in t or re.search(r"\w\(\)", t) for t in texts)


# ---------------------------------------------------------------- 13. before the model loads


def test_eval_input_errors_are_found_before_the_model_loads(tmp_path, fake_engine, capsys):
    task = write_rows(tmp_path / "mine.jsonl", rows(12))
    one_line_error(capsys, eval_argv(str(task), tmp_path / "o", "--k", "50"), "lower --k")
    assert fake_engine.loads == 0


def test_a_malformed_mixture_is_found_before_the_model_loads(train_tiny_model, tmp_path, capsys, monkeypatch):
    from taskmix.training import loop

    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(loop, "load_for_training", must_not_load)
    mixture = write_tiny_mixture(tmp_path / "mix")
    with (mixture / "prompts.jsonl").open("a") as f:
        f.write('{"prompt": "x", "target": \n')
    one_line_error(capsys, ["train", "--model", str(train_tiny_model), "--data", str(mixture),
                            "--out", str(tmp_path / "run"), "--no-progress"], "prompts.jsonl:49: malformed JSON")


def test_run_checks_its_evaluations_before_any_stage(tmp_path, fake_engine, capsys):
    three = write_rows(tmp_path / "three.jsonl", rows(labels=("a", "b", "c")))
    exp = tmp_path / "e.yaml"
    exp.write_text("name: x\nmodel: fake\nbuild: {tasks: [sst2], per_task_cap: 4}\ntrain: {max_steps: 1}\n"
                   f"eval: {{tasks: [{three}], settings: [flipped]}}\n")
    one_line_error(capsys, ["run", str(exp), "--out", str(tmp_path / "run")], "nothing to evaluate")
    assert not (tmp_path / "run").exists() and fake_engine.loads == 0
