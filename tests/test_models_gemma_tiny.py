"""Sliding-window attention (Gemma 3): the engine's own masks equal the model's, on a tiny
random Gemma 3 with a 4-token window, so long contexts score exactly as a full forward."""

from __future__ import annotations

import pytest

from taskmix.records import LoglikelihoodRequest as R


@pytest.fixture(scope="module")
def tiny_gemma(smollm2_dir):
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    from taskmix.models.hf import HFLanguageModel

    tok = AutoTokenizer.from_pretrained(str(smollm2_dir))
    config = Gemma3TextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=3,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=4,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        max_position_embeddings=512, final_logit_softcapping=20.0,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(config).eval()
    return HFLanguageModel(model, tok, fingerprint="tiny-gemma", show_progress=False, min_shared_prefix=4)


def test_sliding_window_engine_equals_full_forward(tiny_gemma):
    import torch

    shared = "Input: one two three four five six\nOutput: a\n\n"
    reqs = [R(shared + f"Input: {q}\nOutput:", c) for q in ("x y z", "seven eight nine ten") for c in (" a", " b c d e")]
    got = tiny_gemma.loglikelihood(reqs)  # contexts far longer than the window: a full mask would differ
    with torch.inference_mode():
        for g, r in zip(got, reqs):
            ctx, cont = tiny_gemma.encode_request(r)
            logits = tiny_gemma.model(torch.tensor([list(ctx) + list(cont)])).logits[0]
            lp = torch.log_softmax(logits.float(), -1)[len(ctx) - 1 : len(ctx) - 1 + len(cont)]
            ref = lp.gather(1, torch.tensor(cont)[:, None]).sum().item()
            assert g.logprob == pytest.approx(ref, abs=1e-4)
