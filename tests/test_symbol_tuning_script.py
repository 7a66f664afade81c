"""benchmarks/symbol_tuning.py: on bad input one line, exit 2, the results file untouched; on
hand-made run folders, the entry it writes."""

import json

from taskmix.evaluation.results import EvalRun, Prediction, write_run
from taskmix.evaluation.summary import CellOutcomes, average_cells, summarize_cell
from taskmix.models.loading import model_identity
from tests.plugins.scripts import load_script


def _script():
    return load_script("symbol_tuning")


def test_an_unreadable_results_file_or_a_missing_run_is_one_line_and_nothing_written(tmp_path, capsys):
    script = _script()
    out = tmp_path / "symbol_tuning.json"
    common = ["--model", "m", "--run", str(tmp_path / "no-run"), "--config", "c.yaml", "--out", str(out)]
    for text, message in (('{"models": ', "unreadable results file"), ("[1]", "not a results file")):
        out.write_text(text)
        assert script.main(common) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
        assert out.read_text() == text
    out.write_text('{"models": {"other": {}}}')
    assert script.main(common) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-run" in err
    assert out.read_text() == '{"models": {"other": {}}}'


def _eval_run(folder, model, predict, tasks=("a", "b"), one_task=(), fingerprint=None, **config):
    """A symbol-eval run folder: datasets ``tasks`` (settings in ``one_task`` on the first only), every headline setting, seeds 0-1, one
    demonstration set per (seed, dataset, setting), queries x (class 0) and y (class 1);
    ``predict(uid)`` is the model's answer; the model's fingerprint is ``fp-<model>`` unless given."""
    settings = _script().SETTINGS
    preds = [Prediction(task=task, setting=setting, example_uid=uid, correct=predict(uid) == gold, answer=gold,
                        prediction=predict(uid), candidates=(" a", " b"), seed=seed, demo_set=f"{seed}/{task}/{setting}")
             for seed in (0, 1) for task in tasks for setting in settings if task == tasks[0] or setting not in one_task for uid, gold in (("x", 0), ("y", 1))]
    cells = list(CellOutcomes.from_predictions(preds).values())
    run = EvalRun(f"key-{model}", {"k": 4, "max_examples": 2, "seeds": [0, 1], "dtype": "bf16", **config}, model,
                  fingerprint or f"fp-{model}",
                  tuple(summarize_cell(c) for c in cells), average_cells(cells), tuple(preds))
    write_run(folder, run, plots=False)


def _experiment(folder, base, tuned, tasks=("a", "b"), one_task=()):
    """A `taskmix run` folder: base and tuned evaluations and a 2-step training run."""
    _eval_run(folder / "eval-base" / "results", "base", base, tasks, one_task)
    _eval_run(folder / "eval-tuned" / "results", str(folder / "model"), tuned, tasks, one_task)
    _train_run(folder)


def _train_run(folder):
    """The training part of a `taskmix run` folder (all that `--no-eval` leaves): a 2-step run."""
    train = folder / "train" / "run"
    train.mkdir(parents=True)
    (train / "run.json").write_text(json.dumps({"config": {"batch_size": 4, "lr": 1e-4, "lora": True, "lora_r": 8,
                                                           "label_loss": "context", "dtype": "bf16"}}))
    rows = [{"step": 0, "icl": {"noinstr_symbols": 0.25}}, {"step": 1, "loss": 0.9, "tokens": 100, "tokens_per_s": 50.0},
            {"step": 2, "loss": 0.5, "tokens": 200, "tokens_per_s": 50.0}]
    (train / "loss.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "experiment.json").write_text(json.dumps({"train": {"eval_tasks": ["tweeteval/emotion"]}}))


def test_the_collector_on_hand_made_runs_gains_goals_budget_ablation_and_commands(tmp_path, capsys):
    always_0, right = (lambda uid: 0), (lambda uid: 0 if uid == "x" else 1)
    _experiment(tmp_path / "head", always_0, right)  # base answers 0 to everything; tuned is right
    _experiment(tmp_path / "abl", always_0, always_0)  # an ablation that learns nothing
    out = tmp_path / "symbol_tuning.json"
    out.write_text('{"models": {"other": {"kept": 1}}}')
    assert _script().main(["--model", "m", "--run", str(tmp_path / "head"), "--config", "head.yaml", "--out", str(out),
                           "--ablation-run", str(tmp_path / "abl"), "--ablation-config", "abl.yaml",
                           "--ablation-algorithmic", str(tmp_path / "abl" / "eval-tuned" / "results")]) == 0
    data = json.loads(out.read_text())
    assert data["models"]["other"] == {"kept": 1}
    m = data["models"]["m"]
    assert m["base"]["symbols_mean"] == 0.5 and m["tuned"]["flipped"] == 1.0
    assert m["tuned_minus_base_pp"] == {k: 50.0 for k in ("instr_labels", "noinstr_labels", "instr_symbols",
                                                          "noinstr_symbols", "flipped", "symbols_mean")}
    assert m["tuned_minus_base_balanced_pp"]["symbols_mean"] == 50.0
    assert m["ci95"]["tuned_minus_base"]["flipped"] == [0.5, 0.5]  # every cluster gains the same
    assert m["clusters"]["symbols_mean"] == 8 and m["n_pairs"]["flipped"] == 8
    assert m["goals"]["all_met"] is True
    assert m["diagnostics"]["base"]["flipped"]["top_prediction_share"] == 1.0
    assert m["diagnostics"]["tuned"]["flipped"]["top_prediction_share"] == 0.5
    assert m["budget"]["steps"] == 2 and m["budget"]["prompts_seen"] == 8 and m["budget"]["train_seconds"] == 4.0
    assert m["budget"]["icl_dev_checks"] == [{"step": 0, "noinstr_symbols": 0.25}]
    abl = m["ablations"]["abl"]
    assert abl["tuned_minus_base_pp"]["symbols_mean"] == 0.0 and abl["goals"]["all_met"] is False
    assert abl["headline_minus_this_pp"]["symbols_mean"] == 50.0
    assert m["commands"][:2] == ["taskmix run head.yaml", "taskmix run abl.yaml"]
    assert any(c.startswith(f"taskmix eval --model {tmp_path / 'abl' / 'model'} --suite algorithmic --k 4 "
                            "--max-examples 2 --seeds 0,1 --dtype bf16") for c in m["commands"])


def test_the_development_screen_is_scored_against_the_headline_on_the_same_prompts(tmp_path, capsys):
    always_0, right = (lambda uid: 0), (lambda uid: 0 if uid == "x" else 1)
    _experiment(tmp_path / "head", always_0, right)
    # the dev tasks: two datasets, flipped on the first only (a setting of one dataset has no
    # average row; that dataset's row counts)
    dev = dict(tasks=("d", "e"), one_task=("flipped",))
    _experiment(tmp_path / "dev-a", always_0, always_0, **dev)  # a candidate that learns nothing
    _experiment(tmp_path / "dev-b", always_0, right, **dev)  # one as good as the headline
    _eval_run(tmp_path / "ref", str(tmp_path / "head" / "model"), right, **dev)  # the headline's model
    out = tmp_path / "symbol_tuning.json"
    common = ["--model", "m", "--run", str(tmp_path / "head"), "--config", "head.yaml", "--out", str(out)]
    assert _script().main([*common, "--dev-run", str(tmp_path / "dev-a")]) == 2
    assert "--dev-run needs --dev-reference" in capsys.readouterr().err and not out.exists()
    two_a = [*common, "--dev-reference", str(tmp_path / "ref"), "--dev-run", str(tmp_path / "dev-a"),
             "--dev-run", str(tmp_path / "x" / "dev-a")]
    assert _script().main(two_a) == 2 and "share a name" in capsys.readouterr().err and not out.exists()
    one_config = [*common, "--dev-reference", str(tmp_path / "ref"), "--dev-run", str(tmp_path / "dev-a"),
                  "--dev-run", str(tmp_path / "dev-b"), "--dev-config", "a.yaml"]
    assert _script().main(one_config) == 2 and "one config per run" in capsys.readouterr().err and not out.exists()
    assert _script().main([*common, "--dev-reference", str(tmp_path / "ref"),
                           "--dev-run", str(tmp_path / "dev-a"), "--dev-config", "a.yaml",
                           "--dev-run", str(tmp_path / "dev-b"), "--dev-config", "b.yaml"]) == 0
    dev = json.loads(out.read_text())["models"]["m"]["development"]
    assert "agreement_with_symbol_eval" not in dev  # no ablation met symbol-eval
    # dev-b's model on symbol-eval as an ablation: the agreement pairs it (and the headline) by model
    _eval_run(tmp_path / "abl-b" / "eval-base" / "results", "base", always_0)
    _eval_run(tmp_path / "abl-b" / "eval-tuned" / "results", str(tmp_path / "dev-b" / "model"), always_0)
    (tmp_path / "abl-b" / "train").mkdir()
    (tmp_path / "abl-b" / "train" / "run").symlink_to(tmp_path / "dev-b" / "train" / "run")
    assert _script().main([*common, "--dev-reference", str(tmp_path / "ref"),
                           "--dev-run", str(tmp_path / "dev-a"), "--dev-config", "a.yaml",
                           "--dev-run", str(tmp_path / "dev-b"), "--dev-config", "b.yaml",
                           "--ablation-run", str(tmp_path / "abl-b")]) == 0
    agreement = json.loads(out.read_text())["models"]["m"]["development"]["agreement_with_symbol_eval"]
    assert agreement["runs"] == ["headline", "abl-b"] and agreement["n_runs"] == 2
    flipped = agreement["accuracy"]["flipped -> flipped"]
    assert flipped["dev_pp"] == [50.0, 50.0] and flipped["symbol_eval_pp"] == [50.0, 0.0]  # both right on dev: rho undefined
    assert flipped["rho"] is None and flipped["p"] is None
    assert dev["candidates"]["dev-a"]["mixture"] is None  # hand-made runs have no mixture
    assert dev["reference"]["tuned_minus_base_pp"]["noinstr_symbols"] == 50.0
    assert dev["reference"]["base"]["flipped"] == 0.5 and dev["reference"]["headline"]["flipped"] == 1.0
    assert dev["reference"]["diagnostics"]["base"]["flipped"]["top_prediction_share"] == 1.0
    a, b = dev["candidates"]["dev-a"], dev["candidates"]["dev-b"]
    assert a["config"] == "a.yaml" and a["tuned_minus_base_pp"]["flipped"] == 0.0 and "goals" not in a
    assert a["headline_minus_this_pp"]["flipped"] == 50.0 and b["headline_minus_this_pp"]["flipped"] == 0.0
    assert b["budget"]["steps"] == 2
    commands = json.loads(out.read_text())["models"]["m"]["commands"]
    assert "taskmix run a.yaml" in commands and "taskmix run b.yaml" in commands
    assert any(c.startswith(f"taskmix eval --model {tmp_path / 'head' / 'model'} --tasks ") and c.endswith(f"--out {tmp_path / 'ref'}")
               for c in commands)


def test_another_protocol_compares_the_headlines_own_models_and_refuses_others(tmp_path, capsys):
    always_0, right = (lambda uid: 0), (lambda uid: 0 if uid == "x" else 1)
    _experiment(tmp_path / "head", always_0, right)
    blocks = dict(suite="symbol-eval", settings=["instr_symbols", "flipped"], effective_block_size=8)
    _eval_run(tmp_path / "p-base", "base", always_0, **blocks)  # the same models under another protocol
    _eval_run(tmp_path / "p-tuned", str(tmp_path / "head" / "model"), always_0, **blocks)  # where the gain vanishes
    _eval_run(tmp_path / "p-other", "other-model", right, **blocks)
    out = tmp_path / "symbol_tuning.json"
    common = ["--model", "m", "--run", str(tmp_path / "head"), "--config", "head.yaml", "--out", str(out)]
    assert _script().main([*common, "--protocol-base", str(tmp_path / "p-base")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "go together" in err and not out.exists()
    for base, tuned, wrong in (("p-other", "p-tuned", "--protocol-base"), ("p-base", "p-other", "--protocol-tuned")):
        assert _script().main([*common, "--protocol-base", str(tmp_path / base), "--protocol-tuned", str(tmp_path / tuned)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{wrong}: its model (fp-other-model)" in err and not out.exists()
    assert _script().main([*common, "--protocol-base", str(tmp_path / "p-base"),
                           "--protocol-tuned", str(tmp_path / "p-tuned")]) == 0
    m = json.loads(out.read_text())["models"]["m"]
    assert m["tuned_minus_base_pp"]["symbols_mean"] == 50.0  # the headline's own protocol
    other = m["other_protocol"]
    assert other["tuned_minus_base_pp"]["symbols_mean"] == 0.0 and "goals" not in other
    assert other["diagnostics"]["tuned"]["flipped"]["top_prediction_share"] == 1.0
    assert other["ci95"]["tuned_minus_base"]["flipped"] == [0.0, 0.0] and other["clusters"]["symbols_mean"] == 8
    assert other["commands"][0] == (f"taskmix eval --model base --suite symbol-eval --settings instr_symbols,flipped "
                                    f"--block-size 8 --k 4 --max-examples 2 --seeds 0,1 --dtype bf16 --out {tmp_path / 'p-base'}")
    assert "block size 8" in other["protocol"] and "block size n (one shared" in m["protocol"]
    assert all(c in m["commands"] for c in other["commands"]) and len(other["commands"]) == 2


def test_a_training_run_without_steps_is_one_line_in_either_mode(tmp_path, capsys):
    args = _headline_and_ablation_under_another_protocol(tmp_path, 1)
    out = tmp_path / "symbol_tuning.json"
    (tmp_path / "abl" / "train" / "run" / "loss.jsonl").write_text('{"step": 0, "icl": {"noinstr_symbols": 0.25}}\n')
    assert _script().main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loss.jsonl has no training steps" in err and not out.exists()
    assert _script().main(args[:-4]) == 0  # the headline alone
    capsys.readouterr()
    before = out.read_text()
    (tmp_path / "abl" / "train" / "run" / "model").mkdir()
    assert _script().main(["--model", "m", "--update-protocol", "fresh_exemplars", "--out", str(out),
                           "--protocol-base", str(tmp_path / "p-base"), "--protocol-tuned", str(tmp_path / "p-tuned"),
                           "--ablation-run", str(tmp_path / "abl"), "--ablation-config", "abl.yaml",
                           f"--protocol-ablation=abl={tmp_path / 'p-abl'}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loss.jsonl has no training steps" in err and out.read_text() == before


def test_update_protocol_adds_the_headlines_models_under_one_more_protocol_and_a_full_collection_keeps_it(tmp_path, capsys):
    import shutil

    always_0, right = (lambda uid: 0), (lambda uid: 0 if uid == "x" else 1)
    _experiment(tmp_path / "head", always_0, right)
    fresh = dict(suite="symbol-eval", settings=["instr_symbols", "flipped"], effective_block_size=1)
    _eval_run(tmp_path / "f-base", "base", always_0, **fresh)
    _eval_run(tmp_path / "f-tuned", str(tmp_path / "head" / "model"), right, **fresh)
    _eval_run(tmp_path / "f-other", "other-model", right, **fresh)
    out = tmp_path / "symbol_tuning.json"
    collect = ["--model", "m", "--run", str(tmp_path / "head"), "--config", "head.yaml", "--out", str(out)]
    assert _script().main(collect) == 0
    capsys.readouterr()
    shutil.copytree(tmp_path / "head", tmp_path / "head-copy")
    shutil.rmtree(tmp_path / "head")  # the headline's folders need not exist for an update
    before = out.read_text()
    update = ["--model", "m", "--update-protocol", "fresh_exemplars", "--out", str(out)]
    for argv, message in (
            ([*update, "--protocol-base", str(tmp_path / "f-base")], "needs --protocol-base and --protocol-tuned"),
            ([*update, "--protocol-base", str(tmp_path / "f-base"), "--protocol-tuned", str(tmp_path / "f-other")],
             "--protocol-tuned: its model (fp-other-model)"),
            ([*update, "--protocol-base", str(tmp_path / "f-base"), "--protocol-tuned", str(tmp_path / "f-tuned"),
              "--check-base", str(tmp_path / "f-base")], "does not take --check-base"),
            ([*update, "--update-check"], "separate updates")):
        assert _script().main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and out.read_text() == before, err
    assert _script().main([*update, "--protocol-base", str(tmp_path / "f-base"), "--protocol-tuned", str(tmp_path / "f-tuned"),
                           "--note", "fresh exemplars"]) == 0
    capsys.readouterr()
    earlier, m = json.loads(before)["models"]["m"], json.loads(out.read_text())["models"]["m"]
    block = m["more_protocols"]["fresh_exemplars"]
    assert block["tuned_minus_base_pp"]["symbols_mean"] == 50.0 and "block size 1" in block["protocol"]
    assert block["ci95"]["tuned_minus_base"]["flipped"] == [0.5, 0.5] and block["clusters"]["symbols_mean"] == 8
    assert all(c in m["commands"] for c in block["commands"]) and m["notes"] == ["fresh exemplars"]
    assert len(block["commands"]) == 2 and all(c.startswith("taskmix eval ") for c in block["commands"])
    assert "--update-protocol fresh_exemplars" in m["commands"][-1]
    assert {k: v for k, v in m.items() if k not in ("more_protocols", "commands", "notes")} == {
        k: v for k, v in earlier.items() if k != "commands"}  # everything else as it was
    # a later full collection of the same models keeps the block; of other models it drops it
    shutil.move(tmp_path / "head-copy", tmp_path / "head")
    assert _script().main(collect) == 0
    assert json.loads(out.read_text())["models"]["m"]["more_protocols"] == m["more_protocols"]
    _eval_run(tmp_path / "head" / "eval-tuned" / "results", "retrained", right)
    assert _script().main(collect) == 0
    assert "more_protocols" not in json.loads(out.read_text())["models"]["m"]


def _headline_and_ablation_under_another_protocol(tmp_path, block_size):
    """A headline that gains nothing and an ablation that is always right, both with `taskmix run`
    folders, and base, headline and ablation under another protocol (``block_size``) in p-base,
    p-tuned and p-abl; the collector's arguments for the headline with the ablation."""
    always_0, right = (lambda uid: 0), (lambda uid: 0 if uid == "x" else 1)
    _experiment(tmp_path / "head", always_0, always_0)
    _experiment(tmp_path / "abl", always_0, right)
    other = dict(suite="symbol-eval", settings=["instr_symbols", "flipped"], effective_block_size=block_size)
    _eval_run(tmp_path / "p-base", "base", always_0, **other)
    _eval_run(tmp_path / "p-tuned", str(tmp_path / "head" / "model"), always_0, **other)
    _eval_run(tmp_path / "p-abl", str(tmp_path / "abl" / "model"), right, **other)
    return ["--model", "m", "--run", str(tmp_path / "head"), "--config", "head.yaml",
            "--out", str(tmp_path / "symbol_tuning.json"), "--ablation-run", str(tmp_path / "abl"), "--ablation-config", "abl.yaml"]


def test_an_ablation_under_the_other_protocol_is_paired_with_its_base_and_the_headline(tmp_path, capsys):
    common = _headline_and_ablation_under_another_protocol(tmp_path, 8)
    out = tmp_path / "symbol_tuning.json"
    protocol = ["--protocol-base", str(tmp_path / "p-base"), "--protocol-tuned", str(tmp_path / "p-tuned")]
    for argv, message in (([f"--protocol-ablation=abl={tmp_path / 'p-abl'}"], "needs --protocol-base"),
                          ([*protocol, f"--protocol-ablation=nope={tmp_path / 'p-abl'}"], "NAME one of the --ablation-run names (abl)"),
                          ([*protocol, f"--protocol-ablation=abl={tmp_path / 'p-tuned'}"], "is not the ablation's")):
        assert _script().main([*common, *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and not out.exists()
    assert _script().main([*common, *protocol, f"--protocol-ablation=abl={tmp_path / 'p-abl'}"]) == 0
    m = json.loads(out.read_text())["models"]["m"]
    abl = m["other_protocol"]["ablations"]["abl"]
    assert abl["tuned_minus_base_pp"]["symbols_mean"] == 50.0 and abl["headline_minus_this_pp"]["symbols_mean"] == -50.0
    assert abl["ci95"]["tuned_minus_base"]["flipped"] == [0.5, 0.5]
    assert abl["diagnostics"]["flipped"]["top_prediction_share"] == 0.5
    assert abl["command"] in m["commands"] and abl["command"].endswith(f"--out {tmp_path / 'p-abl'}")


def test_dev_agreement_pairs_runs_by_model_and_ranks_them():
    script = _script()

    def block(fp, sym, flipped, labels, symbols_key="noinstr_symbols"):
        values = {symbols_key: sym, "flipped": flipped, "noinstr_labels": labels}
        scoring = "float32|v1" if symbols_key == "noinstr_symbols" else "bfloat16|v2"  # dev and eval differ but the model
        return {"fingerprint": f"model@{fp}|{scoring}", "tuned_minus_base_pp": values,
                "tuned_minus_base_balanced_pp": {k: -v for k, v in values.items()}}

    development = {"reference": block("h", 20.0, 6.0, -3.0),
                   "candidates": {"dev-a": block("a", 10.0, 5.0, 2.0), "dev-b": block("b", 18.0, 9.0, -4.0),
                                  "dev-only": block("z", 30.0, 30.0, 30.0)}}  # never met symbol-eval: left out
    headline = block("h", 0.1, -1.7, -6.7, "symbols_mean")
    ablations = {"abl-a": block("a", -2.0, -3.0, -9.0, "symbols_mean"), "abl-b": block("b", -1.0, -4.0, -8.0, "symbols_mean"),
                 "abl-c": block("c", 5.0, 5.0, 5.0, "symbols_mean")}  # never on dev: left out
    got = script.dev_agreement(development, headline, ablations)
    assert got["runs"] == ["headline", "abl-a", "abl-b"] and got["n_runs"] == 3
    assert "noinstr_symbols -> noinstr_symbols" not in got["accuracy"]  # symbol-eval blocks here have no such key
    symbols = got["accuracy"]["noinstr_symbols -> symbols_mean"]
    assert symbols["dev_pp"] == [20.0, 10.0, 18.0] and symbols["symbol_eval_pp"] == [0.1, -2.0, -1.0]
    assert symbols["rho"] == 1.0 and symbols["p"] == round(2 / 6, 4)  # the same order on both
    # flipped: dev ranks (2, 1, 3), symbol-eval ranks (3, 2, 1): d^2 = 1 + 1 + 4, rho = 1 - 6 * 6 / (3 * 8) = -0.5
    assert got["accuracy"]["flipped -> flipped"]["rho"] == -0.5
    assert got["balanced"]["noinstr_symbols -> symbols_mean"]["rho"] == 1.0  # both sides negated: the same order
    assert got["accuracy"]["noinstr_labels -> noinstr_labels"]["rho"] == -0.5  # ranks (2, 3, 1) and (3, 1, 2)


def test_another_development_set_is_checked_against_symbol_eval_by_model(tmp_path, capsys):
    always_0, right = (lambda uid: 0), (lambda uid: 0 if uid == "x" else 1)
    _experiment(tmp_path / "head", always_0, right)
    _experiment(tmp_path / "abl", always_0, always_0)  # an ablation that learns nothing on symbol-eval
    dev = dict(tasks=("d", "e"), one_task=("flipped",), effective_block_size=8)
    _eval_run(tmp_path / "chk-base", "base", always_0, **dev)
    _eval_run(tmp_path / "chk-head", str(tmp_path / "head" / "model"), right, **dev)  # the same models on the other set
    _eval_run(tmp_path / "chk-abl", str(tmp_path / "abl" / "model"), always_0, **dev)
    out = tmp_path / "symbol_tuning.json"
    common = ["--model", "m", "--run", str(tmp_path / "head"), "--config", "head.yaml", "--out", str(out),
              "--ablation-run", str(tmp_path / "abl")]
    assert _script().main([*common, "--check-run", str(tmp_path / "chk-head")]) == 2
    assert "--check-base and --check-run go together" in capsys.readouterr().err and not out.exists()
    assert _script().main([*common, "--check-base", str(tmp_path / "chk-base"), "--check-run", str(tmp_path / "chk-head"),
                           "--check-run", str(tmp_path / "chk-abl")]) == 0
    m = json.loads(out.read_text())["models"]["m"]
    check = m["development_check"]
    head, abl = check["runs"][str(tmp_path / "chk-head")], check["runs"][str(tmp_path / "chk-abl")]
    assert head["tuned_minus_base_pp"]["flipped"] == 50.0 and abl["tuned_minus_base_pp"]["flipped"] == 0.0
    assert check["base"]["accuracy"]["flipped"] == 0.5 and "block size 8" in check["protocol"]
    agreement = check["agreement_with_symbol_eval"]
    assert agreement["runs"] == ["headline", "abl"] and agreement["n_runs"] == 2
    assert agreement["accuracy"]["flipped -> flipped"] == {"rho": 1.0, "p": 1.0, "p_method": "exact", "dev_pp": [50.0, 0.0],
                                                         "symbol_eval_pp": [50.0, 0.0]}
    assert head["command"].startswith(f"taskmix eval --model {tmp_path / 'head' / 'model'} ") and "--block-size 8" in head["command"]
    assert head["command"] in m["commands"] and check["base"]["command"] in m["commands"]


def test_update_check_adds_models_to_the_stored_check_without_the_earlier_folders(tmp_path, capsys):
    import shutil

    always_0, right = (lambda uid: 0), (lambda uid: 0 if uid == "x" else 1)
    _experiment(tmp_path / "head", always_0, right)
    _experiment(tmp_path / "abl", always_0, always_0)
    dev = dict(tasks=("d", "e"), one_task=("flipped",), effective_block_size=8)
    _eval_run(tmp_path / "chk-base", "base", always_0, **dev)
    _eval_run(tmp_path / "chk-head", str(tmp_path / "head" / "model"), right, **dev)
    _eval_run(tmp_path / "chk-abl", str(tmp_path / "abl" / "model"), always_0, **dev)
    both, once = tmp_path / "both.json", tmp_path / "once.json"
    common = ["--model", "m", "--run", str(tmp_path / "head"), "--config", "head.yaml", "--ablation-run", str(tmp_path / "abl"),
              "--check-base", str(tmp_path / "chk-base")]
    assert _script().main([*common, "--out", str(both), "--check-run", str(tmp_path / "chk-head"),
                           "--check-run", str(tmp_path / "chk-abl")]) == 0
    assert _script().main([*common, "--out", str(once), "--check-run", str(tmp_path / "chk-head")]) == 0
    shutil.rmtree(tmp_path / "chk-head")  # the earlier model's evaluation is gone; its stored block stays
    data = json.loads(once.read_text())
    del data["models"]["m"]["ranking_reliability"]  # recomputed by the update
    once.write_text(json.dumps(data))
    earlier = data["models"]["m"]
    update = ["--model", "m", "--update-check", "--out", str(once), "--check-base", str(tmp_path / "chk-base")]
    assert _script().main([*update, "--check-run", str(tmp_path / "chk-abl"), "--note", "added later"]) == 0
    capsys.readouterr()
    got, want = (json.loads(p.read_text())["models"]["m"] for p in (once, both))
    assert got["development_check"]["runs"] == want["development_check"]["runs"]
    assert got["development_check"]["agreement_with_symbol_eval"] == want["development_check"]["agreement_with_symbol_eval"]
    assert "updated" in got["development_check"] and got["notes"] == ["added later"]
    assert got["ranking_reliability"] == want["ranking_reliability"]
    assert want["development_check"]["runs"][str(tmp_path / "chk-abl")]["command"] in got["commands"]
    assert got["ranking_reliability"]["n_runs"] == 2
    kept = [k for k in earlier if k not in ("development_check", "commands")]
    assert {k: got[k] for k in kept} == {k: earlier[k] for k in kept}  # everything else as it was
    assert got["commands"][:len(earlier["commands"])] == earlier["commands"]
    # the same model evaluated again into another folder replaces its stored block, never doubles it
    _eval_run(tmp_path / "chk-abl-again", str(tmp_path / "abl" / "model"), right, **dev)
    assert _script().main([*update, "--check-run", str(tmp_path / "chk-abl-again")]) == 0
    capsys.readouterr()
    runs = json.loads(once.read_text())["models"]["m"]["development_check"]["runs"]
    assert set(runs) == {str(tmp_path / "chk-head"), str(tmp_path / "chk-abl-again")}
    # a base that answers differently, or is scored differently: refused, the file untouched
    _eval_run(tmp_path / "other-base", "base", right, **dev)
    before = once.read_text()
    stored = json.loads(before)
    stored["models"]["m"]["development_check"]["base"]["fingerprint"] = "fp-base|float32|v1"
    rescored = tmp_path / "rescored.json"
    rescored.write_text(json.dumps(stored))
    assert _script().main(["--model", "m", "--update-check", "--out", str(rescored), "--check-base", str(tmp_path / "chk-base"),
                           "--check-run", str(tmp_path / "chk-abl")]) == 2
    assert "base fingerprint differ" in capsys.readouterr().err and rescored.read_text() == json.dumps(stored)
    for argv, message in (
            ([*update[:-1], str(tmp_path / "other-base"), "--check-run", str(tmp_path / "chk-abl")], "differ from the stored check"),
            ([*update, "--check-run", str(tmp_path / "chk-abl"), "--run", str(tmp_path / "head")], "does not take --run"),
            ([*update, "--check-run", str(tmp_path / "chk-abl")][:-2], "--update-check needs --check-base and --check-run"),
            (["--model", "nobody", *update[2:], "--check-run", str(tmp_path / "chk-abl")], "no entry for model 'nobody'")):
        assert _script().main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
        assert once.read_text() == before
    assert _script().main(["--model", "m", "--out", str(once)]) == 2  # neither --run nor --update-check
    assert "--run and --config are required" in capsys.readouterr().err


def test_ranking_reliability_is_the_share_of_pairwise_differences_beyond_noise():
    script = _script()
    ci = {"a": [0.02, 0.06], "b": [-0.02, 0.02]}  # widths 4 pp: standard errors 4 / 3.92
    ablations = {name: {"headline_minus_this_pp": {"symbols_mean": d}, "headline_minus_this_balanced_pp": {},
                        "ci95_headline_minus_this": {"symbols_mean": ci[name]}, "ci95_headline_minus_this_balanced": None}
                 for name, d in (("a", 4.0), ("b", 0.0))}
    between = {"a minus b": {"pp": {"symbols_mean": -4.0}, "balanced_pp": {}, "ci95": {"symbols_mean": [-0.06, -0.02]},
                             "ci95_balanced": {}}}
    got = script.ranking_reliability(ablations, between)
    assert got["n_runs"] == 3 and got["n_pairs"] == 3 and got["balanced"] == {}
    cell = got["accuracy"]["symbols_mean"]
    se2 = (4 / 3.919927969080108) ** 2
    assert cell["reliability"] == round(1 - se2 / ((16 + 0 + 16) / 3), 4)  # 0.9024
    assert cell["pairs_apart"] == 2 and cell["pairs"] == 3 and cell["rms_se_pp"] == round(se2 ** 0.5, 2)
    # "a" is in both apart pairs; without it only headline vs b remains, a difference of 0
    assert cell["without_most_apart"] == {"run": "a", "reliability": None, "correlation_ceiling": None, "pairs_apart": 0,
                                          "pairs": 1, "rms_difference_pp": 0.0, "rms_se_pp": round(se2 ** 0.5, 2)}


def test_ranking_reliability_breaks_a_tie_by_the_larger_differences():
    def cell(d, ci):
        return {"symbols_mean": d}, {"symbols_mean": ci}

    ablations = {}
    for name, d in (("a", 3.0), ("b", -6.0)):  # headline minus a (+3) and minus b (-6) both apart: one pair each
        pp_, ci = cell(d, [d / 100 - 0.01, d / 100 + 0.01])
        ablations[name] = {"headline_minus_this_pp": pp_, "headline_minus_this_balanced_pp": {},
                           "ci95_headline_minus_this": ci, "ci95_headline_minus_this_balanced": None}
    between = {"a minus b": {"pp": {"symbols_mean": -9.0}, "balanced_pp": {}, "ci95": {"symbols_mean": [-0.2, 0.05]},
                             "ci95_balanced": {}}}  # within noise
    got = _script().ranking_reliability(ablations, between)["accuracy"]["symbols_mean"]
    # headline is in two apart pairs (|d| 3 + 6), a and b in one each: headline goes; then b (|d| 6) would beat a (3)
    assert got["pairs_apart"] == 2 and got["without_most_apart"]["run"] == "headline"
    between["a minus b"]["ci95"]["symbols_mean"] = [-0.10, -0.08]  # now apart too: every run in two pairs
    got = _script().ranking_reliability(ablations, between)["accuracy"]["symbols_mean"]
    assert got["pairs_apart"] == 3 and got["without_most_apart"]["run"] == "b"  # 6 + 9 against headline's 3 + 6, a's 3 + 9


def test_update_protocol_adds_stored_ablations_on_the_same_prompts_and_keeps_them_while_the_prompts_stay(tmp_path, capsys):
    def always_0(uid):
        return 0

    fresh = dict(suite="symbol-eval", settings=["instr_symbols", "flipped"], effective_block_size=1)
    out = tmp_path / "symbol_tuning.json"
    assert _script().main(_headline_and_ablation_under_another_protocol(tmp_path, 1)) == 0
    capsys.readouterr()
    update = ["--model", "m", "--update-protocol", "fresh_exemplars", "--out", str(out),
              "--protocol-base", str(tmp_path / "p-base"), "--protocol-tuned", str(tmp_path / "p-tuned")]
    before = out.read_text()
    for spec, message in ((f"nope={tmp_path / 'p-abl'}", "NAME one of the stored ablations or --ablation-run names (abl)"),
                          (f"abl={tmp_path / 'p-tuned'}", "is not the ablation's (fp-")):
        assert _script().main([*update, f"--protocol-ablation={spec}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and out.read_text() == before, err
    assert _script().main([*update, f"--protocol-ablation=abl={tmp_path / 'p-abl'}"]) == 0
    m = json.loads(out.read_text())["models"]["m"]
    abl = m["more_protocols"]["fresh_exemplars"]["ablations"]["abl"]
    assert abl["tuned_minus_base_pp"]["symbols_mean"] == 50.0 and abl["headline_minus_this_pp"]["symbols_mean"] == -50.0
    assert abl["ci95"]["tuned_minus_base"]["flipped"] == [0.5, 0.5]
    assert abl["command"] in m["commands"] and abl["command"].endswith(f"--out {tmp_path / 'p-abl'}")
    # the headline's models again on the same prompts: the ablation stays; on other prompts it goes
    assert _script().main(update) == 0
    assert json.loads(out.read_text())["models"]["m"]["more_protocols"]["fresh_exemplars"]["ablations"] == {"abl": abl}
    _eval_run(tmp_path / "p-base", "base", always_0, tasks=("a", "c"), **fresh)
    _eval_run(tmp_path / "p-tuned", str(tmp_path / "head" / "model"), always_0, tasks=("a", "c"), **fresh)
    assert _script().main(update) == 0
    assert "ablations" not in json.loads(out.read_text())["models"]["m"]["more_protocols"]["fresh_exemplars"]


def test_update_protocol_adds_a_new_ablation_trained_for_that_protocol_only_and_pairs_the_ablations(tmp_path, capsys):
    fresh = dict(suite="symbol-eval", settings=["instr_symbols", "flipped"], effective_block_size=1)
    out = tmp_path / "symbol_tuning.json"
    assert _script().main(_headline_and_ablation_under_another_protocol(tmp_path, 1)) == 0
    capsys.readouterr()
    _train_run(tmp_path / "quarter")  # `taskmix run --no-eval`: no eval folders
    model = tmp_path / "quarter" / "train" / "run" / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    _eval_run(tmp_path / "p-quarter", str(model), lambda uid: 1, fingerprint=model_identity(model), **fresh)
    update = ["--model", "m", "--update-protocol", "fresh_exemplars", "--out", str(out),
              "--protocol-base", str(tmp_path / "p-base"), "--protocol-tuned", str(tmp_path / "p-tuned")]
    quarter = ["--ablation-run", str(tmp_path / "quarter"), "--ablation-config", "quarter.yaml"]
    abl_eval, quarter_eval = f"--protocol-ablation=abl={tmp_path / 'p-abl'}", f"--protocol-ablation=quarter={tmp_path / 'p-quarter'}"
    before = out.read_text()
    for argv, message in (
            ([*quarter[:2], quarter_eval], "1 --ablation-run but 0 --ablation-config"),
            ([*quarter], "give its evaluation on these prompts with --protocol-ablation quarter=FOLDER"),
            (["--ablation-run", str(tmp_path / "abl"), "--ablation-config", "abl.yaml", abl_eval], "abl is a stored ablation"),
            ([*quarter, f"--protocol-ablation=quarter={tmp_path / 'p-abl'}"], "is not the ablation's"),
            (["--ablation-run", str(tmp_path / "head-nope"), "--ablation-config", "x.yaml"], "no trained model at")):
        assert _script().main([*update, *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and out.read_text() == before, err
    assert _script().main([*update, *quarter, abl_eval, quarter_eval]) == 0
    m = json.loads(out.read_text())["models"]["m"]
    block = m["more_protocols"]["fresh_exemplars"]
    new = block["ablations"]["quarter"]
    assert new["only_this_protocol"] is True and new["config"] == "quarter.yaml" and new["budget"]["steps"] == 2
    assert new["fingerprint"] == model_identity(model) and "only_this_protocol" not in block["ablations"]["abl"]
    assert new["tuned_minus_base_pp"]["flipped"] == 0.0 and new["tuned_minus_base_balanced_pp"]["flipped"] == 0.0
    assert new["headline_minus_this_pp"]["flipped"] == 0.0 and new["diagnostics"]["flipped"]["top_prediction_share"] == 1.0
    pair = block["between_ablations"]["abl minus quarter"]  # always right minus always 1: +50 on x, 0 on y
    assert pair["pp"]["flipped"] == 50.0 and pair["ci95"]["flipped"] == [0.5, 0.5]
    assert "taskmix run quarter.yaml --no-eval" in m["commands"] and new["command"] in m["commands"]
    assert m["ablations"].keys() == {"abl"}  # the shared-block ablations are as they were
    # the headline's models again on the same prompts: the ablations and their pairs stay
    assert _script().main(update) == 0
    again = json.loads(out.read_text())["models"]["m"]["more_protocols"]["fresh_exemplars"]
    assert again["ablations"] == block["ablations"] and again["between_ablations"] == block["between_ablations"]
