"""`taskmix build symbol --select-for TARGET --k K`: INSTA picks the tuning tasks of the mixture."""

import json

from taskmix.cli import main


def test_select_for_builds_from_the_k_closest_tasks(tmp_path, mirror, capsys):
    out = tmp_path / "mix"
    rc = main(["build", "symbol", "--select-for", "subj", "--k", "2", "--tasks", "sst2", "mr", "trec", "cola",
               "--cap", "5", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert printed.startswith("selected for subj: ")
    manifest = json.loads((out / "manifest.json").read_text())
    tasks = manifest["config"]["tasks"]
    assert len(tasks) == 2 and set(tasks) <= {"sst2", "mr", "trec", "cola"}
    assert all(name in printed.splitlines()[0] for name in tasks)
    rows = [json.loads(line) for line in (out / "prompts.jsonl").read_text().splitlines()]
    assert {r["task"] for r in rows} == set(tasks)


def test_select_for_bad_k_is_one_line(tmp_path, mirror, capsys):
    rc = main(["build", "symbol", "--select-for", "subj", "--k", "9", "--tasks", "sst2", "mr",
               "--out", str(tmp_path / "mix")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and err.count("\n") == 0 and "larger than the 2 tasks" in err
    assert not (tmp_path / "mix").exists()


def test_select_for_empty_target_is_refused(tmp_path, capsys):
    assert main(["build", "symbol", "--select-for", " ", "--out", str(tmp_path / "mix")]) != 0
    assert "empty" in capsys.readouterr().err and not (tmp_path / "mix").exists()
