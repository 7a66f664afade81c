"""label_loss: which tokens carry the loss. Hand-computed label tokens, first appearances
never trained, left truncation, ``query`` unchanged, exact resume with ``context``, and the
bad inputs (unknown value, a mixture without spans, spans outside the text or overlapping)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from taskmix.cli import main
from taskmix.records import Segment
from taskmix.records import TrainingExample
from taskmix.training import TrainConfig, train
from taskmix.training.data import check_mixture, collate, equal_class_counts, read_examples, tokenise
from taskmix.training.loss import target_loss
from taskmix.training.model import load_for_training
from taskmix.training.rundir import read_loss_log
from taskmix.training.targets import context_targets

FAST = dict(lr=5e-3, batch_size=4, warmup_steps=2, progress=False, max_length=256)

# Two classes shown as " foo" (0) and " zq7" (1); the third and fourth exemplars repeat them.
PROMPT = ("Input: great film\nOutput: foo\n\nInput: dull film\nOutput: zq7\n\n"
          "Input: nice film\nOutput: foo\n\nInput: bad film\nOutput: zq7\n\nInput: fine movie\nOutput:")
SEGMENTS = (
    Segment("exemplar_input", 0, 25), Segment("exemplar_label", 25, 29, 0, False),
    Segment("exemplar_input", 31, 55), Segment("exemplar_label", 55, 59, 1, False),
    Segment("exemplar_input", 61, 85), Segment("exemplar_label", 85, 89, 0, True),
    Segment("exemplar_input", 91, 114), Segment("exemplar_label", 114, 118, 1, True),
    Segment("query_input", 120, 145), Segment("answer", 145, 145, 1),
)
EXAMPLE = TrainingExample(prompt=PROMPT, target=" zq7", task="hand", uid="hand:0", segments=SEGMENTS)


def losses(out):
    return [r["loss"] for r in read_loss_log(out)]


def test_segments_of_the_hand_written_prompt_hold_what_they_say():
    assert [PROMPT[s.start:s.end] for s in SEGMENTS if s.kind == "exemplar_label"] == [" foo", " zq7"] * 2
    assert PROMPT[SEGMENTS[-2].start:SEGMENTS[-2].end] == "Input: fine movie\nOutput:"


def test_context_targets_hand_computed():
    # "<bos>" (special, zero width), "a", " X", "b", " X", "c", " Y", "d", " Y Y" (two tokens)
    offsets = [(0, 0), (0, 1), (1, 3), (3, 4), (4, 6), (6, 7), (7, 9), (9, 10), (10, 12), (12, 14)]
    segs = [Segment("exemplar_label", 1, 3, 0, False), Segment("exemplar_label", 4, 6, 0, True),
            Segment("exemplar_label", 7, 9, 1, False), Segment("exemplar_label", 10, 14, 1, True),
            Segment("instruction", 0, 1)]
    assert context_targets(offsets, segs) == [4, 8, 9]  # first appearances (tokens 2 and 6) never
    # tokens 1..2 cut from the start: class 0's first label is gone, so its second is not inferable
    assert context_targets(offsets, segs, dropped=2) == [8 - 2, 9 - 2]
    # tokens 1..8 cut: the two-token label lost its first token, class 1's first label is gone
    assert context_targets(offsets, segs, dropped=8) == []
    # a token starting before a span and reaching into it is not the span's
    assert context_targets([(0, 2), (2, 5)], [Segment("exemplar_label", 1, 2, 0, True)]) == []


def test_label_tokens_of_a_hand_written_prompt_with_smollm2(smollm2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    data = tokenise([EXAMPLE], tok, 512, label_loss="context")
    ids = data.ids.tolist()
    # prompt tokens (no BOS): 7 " foo", 17-19 " z" "q" "7", 29 " foo", 39-41 " z" "q" "7"; 51 of them,
    # then the target " z" "q" "7" at 51-53
    assert int(data.prompt_lens[0]) == 51 and len(ids) == 54
    trained = data.trained_indices(0).tolist()
    assert trained == [29, 39, 40, 41, 51, 52, 53]
    assert tok.decode(ids[29:30]) == " foo" and tok.decode(ids[39:42]) == " zq7" == tok.decode(ids[51:54])
    batch = collate(data, np.array([0]), tok.pad_token_id or 0)
    assert batch.positions.tolist() == [28, 38, 39, 40, 50, 51, 52]  # the token before each trained one
    assert batch.labels.tolist() == [ids[j] for j in trained] and batch.n_targets == 7
    assert data.n_target_tokens == 7
    query = tokenise([EXAMPLE], tok, 512, label_loss="query")
    assert query.trained_indices(0).tolist() == [51, 52, 53]


def test_left_truncation_drops_labels_whose_first_appearance_was_cut(smollm2_dir, monkeypatch):
    from transformers import AutoTokenizer

    import taskmix.training.data as data_module

    monkeypatch.setattr(data_module, "MAX_TRUNCATED_SHARE", 1.0)  # one example, cut on purpose
    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    # 45 tokens: the target's 3 and 42 of the prompt's 51 (its first token and its last 41), so
    # tokens 1-9 are cut: the first " foo" goes, the first " zq7" (17-19) stays
    data = tokenise([EXAMPLE], tok, 45, label_loss="context")
    assert data.n_truncated == 1 and int(data.prompt_lens[0]) == 42
    assert data.trained_indices(0).tolist() == [30, 31, 32, 42, 43, 44]
    assert tok.decode(data.ids[30:33].tolist()) == " zq7"


def test_first_appearances_of_composed_prompts_are_never_trained(toy_loader, smollm2_dir):
    from transformers import AutoTokenizer

    from taskmix.mixture.config import MixtureConfig
    from taskmix.mixture.symbol import make_prompt, plan_task
    from taskmix.prompts.compose import TokenCounter

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    config = MixtureConfig(tasks=("toy3",), per_task_cap=12, max_length=400, instruction_share=0.5)
    pool = plan_task(toy_loader("toy3"), "train")
    examples = [make_prompt(pool, q, config, TokenCounter(chars_per_token=4.0)) for q in range(12)]
    assert {e.kind for e in examples} == {"symbol", "instruction"}
    data = tokenise(examples, tok, 1024, label_loss="context")
    encoded = tok([e.prompt for e in examples], return_offsets_mapping=True)
    for i, ex in enumerate(examples):
        trained = set(data.trained_indices(i).tolist())
        seen = set()
        for seg in (s for s in ex.segments if s.kind == "exemplar_label"):
            mine = {j for j, (a, b) in enumerate(encoded["offset_mapping"][i]) if b > a and seg.start <= a < seg.end}
            assert mine and tok.decode([encoded["input_ids"][i][j] for j in sorted(mine)]) == ex.prompt[seg.start:seg.end]
            assert (mine <= trained) == (seg.label_class in seen)  # trained exactly when shown before
            assert mine <= trained or not mine & trained
            seen.add(seg.label_class)
        n_labels = sum(1 for s in ex.segments if s.kind == "exemplar_label" and s.inferable)
        assert n_labels >= 3  # 2-10 exemplars per class, 3 classes
        assert len(trained) > int(data.lengths[i] - data.prompt_lens[i])


def test_query_mode_is_the_loss_of_today(train_tiny_model, tiny_mixture, tiny_spans_mixture):
    model, tok = load_for_training(train_tiny_model, TrainConfig())
    plain = tokenise(read_examples(tiny_mixture), tok, 256)
    spans = tokenise(read_examples(tiny_spans_mixture), tok, 256, label_loss="query")
    for a, b in ((plain.ids, spans.ids), (plain.offsets, spans.offsets), (plain.prompt_lens, spans.prompt_lens)):
        assert np.array_equal(a, b)
    rows = np.arange(8)
    b = collate(spans, rows, tok.pad_token_id)
    with torch.no_grad():
        ours = float(target_loss(model)(b.input_ids, b.attention_mask, b.positions, b.labels) / b.n_targets)
        # reference, written independently: prompt and target tokenised apart, every prompt
        # token masked, Hugging Face's own shifted mean loss
        examples = list(read_examples(tiny_spans_mixture))[:8]
        seqs = [(tok(e.prompt)["input_ids"], tok(e.target, add_special_tokens=False)["input_ids"]) for e in examples]
        width = max(len(p) + len(t) for p, t in seqs)
        ids = torch.full((8, width), tok.pad_token_id)
        labels = torch.full((8, width), -100)
        for r, (p, t) in enumerate(seqs):
            ids[r, : len(p) + len(t)] = torch.tensor(p + t)
            labels[r, len(p) : len(p) + len(t)] = torch.tensor(t)
        ref = float(model(input_ids=ids, labels=labels).loss)
        ctx = tokenise(read_examples(tiny_spans_mixture), tok, 256, label_loss="context")
        c = collate(ctx, rows, tok.pad_token_id)
        full = torch.full_like(c.input_ids, -100)
        full.view(-1)[c.positions + 1] = c.labels
        ctx_loss = float(target_loss(model)(c.input_ids, c.attention_mask, c.positions, c.labels) / c.n_targets)
        ctx_ref = float(model(input_ids=c.input_ids, labels=full).loss)
    assert ours == pytest.approx(ref, abs=1e-6)
    assert ctx_loss == pytest.approx(ctx_ref, abs=1e-5) and c.n_targets > b.n_targets


def test_query_runs_match_with_or_without_spans(train_tiny_model, tiny_mixture, tiny_spans_mixture, tmp_path):
    cfg = TrainConfig(max_steps=3, **FAST)
    train(train_tiny_model, tiny_mixture, tmp_path / "plain", cfg)
    train(train_tiny_model, tiny_spans_mixture, tmp_path / "spans", cfg)
    assert losses(tmp_path / "plain") == losses(tmp_path / "spans")
    run = json.loads((tmp_path / "spans" / "run.json").read_text())
    assert "label_loss" not in run["config"]  # query, as runs recorded before the field existed


def test_killed_and_resumed_context_run_matches_the_whole_one(train_tiny_model, tiny_spans_mixture, tmp_path):
    cfg = TrainConfig(max_steps=6, grad_accum=2, save_every=2, keep_checkpoints=1, label_loss="context", **FAST)
    train(train_tiny_model, tiny_spans_mixture, tmp_path / "whole", cfg)
    killed = train(train_tiny_model, tiny_spans_mixture, tmp_path / "split", cfg, stop_after=3)
    assert not killed.complete
    resumed = train(train_tiny_model, tiny_spans_mixture, tmp_path / "split", cfg)
    assert resumed.resumed_from == 2 and resumed.complete
    assert len(losses(tmp_path / "whole")) == 6
    assert losses(tmp_path / "split") == losses(tmp_path / "whole")
    from safetensors.torch import load_file

    w1 = load_file(tmp_path / "whole" / "model" / "model.safetensors")
    w2 = load_file(tmp_path / "split" / "model" / "model.safetensors")
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    train(train_tiny_model, tiny_spans_mixture, tmp_path / "query", cfg.replace(label_loss="query"))
    assert losses(tmp_path / "query") != losses(tmp_path / "whole")  # the mode really changes training
    assert json.loads((tmp_path / "whole" / "run.json").read_text())["config"]["label_loss"] == "context"


ARGS = ["--steps", "2", "--batch-size", "4", "--no-progress", "--max-length", "256"]


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("taskmix: error:"), err
    return err[0]


def test_bad_label_loss_inputs_are_one_line_and_write_nothing(train_tiny_model, tiny_mixture, tiny_spans_mixture,
                                                              tmp_path, capsys):
    def run(data, *extra):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        code = main(["train", "--model", str(train_tiny_model), "--data", str(data), "--out", str(out), *ARGS, *extra])
        assert code != 0 and not out.exists()
        return one_error_line(capsys)

    out = tmp_path / "bad-flag"
    assert main(["train", "--model", str(train_tiny_model), "--data", str(tiny_spans_mixture), "--out", str(out),
                 *ARGS, "--label-loss", "labels"]) != 0 and not out.exists()
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "--label-loss: invalid choice: 'labels' (choose from 'query', 'context')" in err[0]
    line = run(tiny_mixture, "--label-loss", "context")
    assert "prompts.jsonl: example 1 (t0) has no label spans" in line and "rebuild it with `taskmix build`" in line
    rows = [json.loads(x) for x in (tiny_spans_mixture / "prompts.jsonl").read_text().splitlines()]
    for name, change, message in [
        ("outside", {"start": 5, "end": 10_000}, "falls outside the prompt"),
        ("overlap", {"start": 0, "end": 30}, "overlaps the one before"),
    ]:
        bad = tmp_path / f"{name}.jsonl"
        broken = json.loads(json.dumps(rows))
        broken[3]["segments"][1].update(change)
        bad.write_text("".join(json.dumps(r) + "\n" for r in broken))
        line = run(bad)  # refused whatever the label loss
        assert f"{name}.jsonl:4: segment" in line and message in line
    cfg = tmp_path / "train.yaml"
    cfg.write_text("label_loss: everything\n")
    assert "must be one of 'query', 'context'" in run(tiny_spans_mixture, "--config", str(cfg))


def test_context_loss_warns_when_most_prompts_show_equal_class_counts(tmp_path, capsys):
    assert equal_class_counts(SEGMENTS)  # two of each class: the fourth label follows by counting
    three = SEGMENTS[:6] + SEGMENTS[8:]  # foo, zq7, foo: unequal
    assert not equal_class_counts(three) and not equal_class_counts(SEGMENTS[:2])  # one class: nothing to count
    unequal = TrainingExample(prompt=PROMPT, target=" zq7", task="hand", uid="hand:1", segments=three)

    def write(examples):
        path = tmp_path / "prompts.jsonl"
        path.write_text("".join(json.dumps(e.to_json()) + "\n" for e in examples))
        return path

    check_mixture(write([EXAMPLE, EXAMPLE, unequal]), "context")
    assert "2 of 3 prompts show every class the same number of exemplars" in capsys.readouterr().err
    check_mixture(write([EXAMPLE, unequal, unequal]), "context")
    check_mixture(write([EXAMPLE, EXAMPLE, unequal]), "query")  # only the dense loss can count
    assert capsys.readouterr().err == ""
