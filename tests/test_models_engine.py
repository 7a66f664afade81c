"""The scoring engine on the tiny random model: equal to a naive full forward, and
independent of batch size, prefix sharing and the result cache."""

from __future__ import annotations

import math

import pytest

from taskmix.errors import TaskmixError
from taskmix.records import GenerateRequest, LoglikelihoodRequest as R

DEMOS = (
    "Classify the sentiment.\n\n"
    "Input: the movie was great fun\nOutput: positive\n\n"
    "Input: terrible acting and a dull plot\nOutput: negative\n\n"
    "Input: a warm story for the whole family\nOutput: positive\n\n"
    "Input: I want my money back\nOutput: negative\n\n"
)
LABELS = (" positive", " negative", " not sure at all")  # one multi-token label
QUERIES = ("boring and slow", "I loved it", "not worth a single cent", "fine", "the best film this year by far")


def requests() -> list[R]:
    out = [R(DEMOS + f"Input: {q}\nOutput:", lab) for q in QUERIES for lab in LABELS]
    out += [R(f"Input: {q}\nOutput:", lab) for q in QUERIES[:2] for lab in LABELS]  # no shared demos
    out += [R("", "Hello world"), R("Question: 2+2= ", "4"), R("x\n\n", " y z")]
    return out


def naive(lm, reqs):
    """log p(cont | ctx) from one full forward of ctx+cont per request (full logits)."""
    import torch

    out = []
    with torch.inference_mode():
        for r in reqs:
            ctx, cont = lm.encode_request(r)
            ids = torch.tensor([list(ctx) + list(cont)])
            logits = lm.model(ids).logits[0].float()
            lp = torch.log_softmax(logits, -1)
            n = len(cont)
            rows = lp[len(ctx) - 1 : len(ctx) - 1 + n]
            tok = torch.tensor(cont)
            out.append((rows.gather(1, tok[:, None]).sum().item(), bool((logits[len(ctx) - 1 : len(ctx) - 1 + n].argmax(-1) == tok).all())))
    return out


def configure(lm, batch_size, min_shared):
    lm.batch_size, lm.min_shared_prefix = batch_size, min_shared
    return lm


def test_engine_equals_naive_full_forward(tiny_lm):
    reqs = requests()
    got = configure(tiny_lm, 8, 16).loglikelihood(reqs)
    ref = naive(tiny_lm, reqs)
    assert len(got) == len(reqs)
    for g, (lp, greedy), r in zip(got, ref, reqs):
        assert g.logprob == pytest.approx(lp, abs=1e-4), r
        assert g.is_greedy == greedy
        assert g.n_tokens == len(tiny_lm.encode_request(r)[1])
    assert any(g.n_tokens > 1 for g in got)


def test_batch_size_and_prefix_sharing_do_not_change_results(tiny_lm):
    reqs = requests()
    base = configure(tiny_lm, 1, 0).loglikelihood(reqs)
    for bs, share in ((8, 0), (1, 16), (8, 16), (3, 4)):
        other = configure(tiny_lm, bs, share).loglikelihood(reqs)
        assert max(abs(a.logprob - b.logprob) for a, b in zip(base, other)) < 1e-4, (bs, share)
        assert [a.is_greedy for a in base] == [b.is_greedy for b in other]


def test_shared_prefix_is_computed_once(tiny_lm):
    reqs = [R(DEMOS + f"Input: {q}\nOutput:", lab) for q in QUERIES for lab in LABELS]
    configure(tiny_lm, 8, 16)
    before = tiny_lm.stats.tokens
    tiny_lm.loglikelihood(reqs)
    shared_run = tiny_lm.stats.tokens - before
    configure(tiny_lm, 8, 0)
    before = tiny_lm.stats.tokens
    tiny_lm.loglikelihood(reqs)
    plain_run = tiny_lm.stats.tokens - before
    demo_tokens = tiny_lm.count_tokens(DEMOS)
    # without sharing the demos run once per query; with sharing once in all
    assert plain_run - shared_run >= (len(QUERIES) - 1) * (demo_tokens - 2)


def test_duplicate_requests_and_order(tiny_lm):
    reqs = requests()
    configure(tiny_lm, 8, 16)
    doubled = tiny_lm.loglikelihood(reqs + reqs[::-1])
    assert doubled[: len(reqs)] == doubled[len(reqs) :][::-1]


def test_trailing_space_moves_to_continuation(tiny_lm):
    a, b = tiny_lm.loglikelihood([R("Answer: ", "yes"), R("Answer:", " yes")])
    assert a.logprob == pytest.approx(b.logprob, abs=1e-5) and a.n_tokens == b.n_tokens


def test_empty_continuation_and_bad_input(tiny_lm):
    (res,) = tiny_lm.loglikelihood([R("context", "")])
    assert (res.logprob, res.n_tokens, res.is_greedy) == (0.0, 0, True)
    with pytest.raises(TaskmixError):
        tiny_lm.loglikelihood([("context", " x")])


def test_disk_cache_hits_and_resume(tiny_model_dir, tmp_path):
    from taskmix.models import load_model

    reqs = requests()
    lm = load_model(tiny_model_dir, cache_dir=tmp_path, show_progress=False, batch_size=4)
    first_half = lm.loglikelihood(reqs[:10])  # "interrupted" after part of the work
    lm.cache.close()
    lm2 = load_model(tiny_model_dir, cache_dir=tmp_path, show_progress=False, batch_size=4)
    assert lm2.fingerprint == lm.fingerprint
    full = lm2.loglikelihood(reqs)
    assert lm2.stats.cache_hits == 10 and lm2.stats.computed == len(set(reqs)) - 10
    assert full[:10] == first_half
    calls = lm2.stats.forward_calls
    again = lm2.loglikelihood(reqs)
    assert again == full and lm2.stats.forward_calls == calls


def test_fingerprint_depends_on_dtype(tiny_model_dir):
    from taskmix.models import load_model

    a = load_model(tiny_model_dir, use_cache=False, show_progress=False)
    b = load_model(tiny_model_dir, dtype="bfloat16", use_cache=False, show_progress=False)
    assert a.fingerprint != b.fingerprint and "float32" in a.fingerprint
    with pytest.raises(TaskmixError):
        load_model(tiny_model_dir, dtype="int3", use_cache=False)


def naive_greedy(lm, context, max_new):
    import torch

    ids = lm.context_ids(context)
    with torch.inference_mode():
        for _ in range(max_new):
            nxt = int(lm.model(torch.tensor([ids])).logits[0, -1].argmax())
            if nxt == lm.tokenizer.eos_token_id:
                break
            ids.append(nxt)
    return lm.tokenizer.decode(ids[lm.count_tokens(context) :], skip_special_tokens=True)


def test_generate_matches_naive_greedy_and_batching(tiny_lm):
    contexts = ["Input: hello\nOutput:", "A much longer context that needs more tokens to encode here:", "x"]
    reqs = [GenerateRequest(c, max_new_tokens=6, stop=()) for c in contexts]
    configure(tiny_lm, 1, 16)
    one = tiny_lm.generate(reqs)
    configure(tiny_lm, 8, 16)
    many = tiny_lm.generate(reqs)
    assert one == many
    assert one == [naive_greedy(tiny_lm, c, 6) for c in contexts]


def test_generate_stop_strings(tiny_lm):
    (free,) = tiny_lm.generate([GenerateRequest("Input: hello\nOutput:", max_new_tokens=8, stop=())])
    assert free, "the tiny model should produce some text"
    stop = free.strip()[:1] if free.strip() else free[:1]
    (cut,) = tiny_lm.generate([GenerateRequest("Input: hello\nOutput:", max_new_tokens=8, stop=(stop,))])
    assert cut == free[: free.find(stop)]
    with pytest.raises(TaskmixError):
        tiny_lm.generate([GenerateRequest("x", max_new_tokens=0)])


def test_results_are_finite_probabilities(tiny_lm):
    for res in tiny_lm.loglikelihood(requests()):
        assert math.isfinite(res.logprob) and res.logprob <= 0


def test_long_context_is_cut_from_the_left_like_lm_eval(tiny_model_dir):
    from taskmix.models import load_model

    lm = load_model(tiny_model_dir, use_cache=False, show_progress=False)
    lm.max_length = 12
    req = R(DEMOS + "Input: fine\nOutput:", " not sure at all")
    ctx, cont = lm.encode_request(req)
    assert len(ctx) + len(cont) == 13 and len(ctx) < lm.count_tokens(DEMOS)
    (got,) = lm.loglikelihood([req])
    (ref, _), = naive(lm, [req])
    assert got.logprob == pytest.approx(ref, abs=1e-4)
    lm.max_length = 2
    with pytest.raises(TaskmixError, match="exceeds"):
        lm.loglikelihood([req])


def test_engine_declares_what_the_evaluation_needs(tiny_lm):
    from taskmix.models import LanguageModel

    assert isinstance(tiny_lm, LanguageModel)
    assert tiny_lm.context_length == 2048  # the tiny Llama's max_position_embeddings
    ids = tiny_lm.context_ids(DEMOS)
    assert tiny_lm.count_tokens(DEMOS) == len(ids) > 20
    assert tiny_lm.context_ids("") == [tiny_lm.tokenizer.bos_token_id]  # lm-eval's context for nothing


def test_bf16_models_score_with_a_float32_output_layer(tiny_model_dir):
    """bf16 logits near 20 are multiples of 0.125, which tied labels; the engine applies the
    output layer in float32 to the bf16 hidden states, and refreshes its copy after an update."""
    import torch

    from taskmix.models import load_model

    lm = load_model(tiny_model_dir, dtype="bfloat16", use_cache=False, show_progress=False)
    head = lm.model.get_output_embeddings()
    with torch.no_grad():
        head.weight.mul_(300.0)  # logits of tens, as a real model's
    reqs = requests()[:6]

    def reference(fp32_head: bool) -> list[float]:
        out = []
        with torch.inference_mode():
            for r in reqs:
                ctx, cont = lm.encode_request(r)
                hidden = lm.model.model(torch.tensor([list(ctx) + list(cont)])).last_hidden_state[0]
                logits = hidden.float() @ head.weight.float().T if fp32_head else head(hidden).float()
                lp = torch.log_softmax(logits, dim=-1)
                out.append(sum(float(lp[len(ctx) - 1 + i, t]) for i, t in enumerate(cont)))
        return out

    got = [x.logprob for x in lm.loglikelihood(reqs)]
    exact, rounded = reference(True), reference(False)
    assert max(abs(a - b) for a, b in zip(got, exact)) < 2e-3
    assert max(abs(a - b) for a, b in zip(got, rounded)) > 2e-2  # the bf16 product would differ
    with torch.no_grad():
        head.weight.mul_(0.5)  # an in-place update (as a training step): the float32 copy follows
    got, exact = [x.logprob for x in lm.loglikelihood(reqs)], reference(True)
    # the tied embeddings moved too, so the bf16 hidden states differ by each CPU's bf16 kernels
    # (2.4e-4 of a log-probability of -1,441 on an AVX2-only CPU); a stale copy would be off by half
    assert max(abs(a - b) / abs(b) for a, b in zip(got, exact)) < 1e-3
