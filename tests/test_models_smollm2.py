"""The real SmolLM2-135M: our log-probabilities equal lm-evaluation-harness's HFLM on the
same prepared folder, and golden values pin them down."""

from __future__ import annotations

import pytest

from taskmix.records import LoglikelihoodRequest as R

DEMO = (
    "Input: the movie was great\nOutput: positive\n\n"
    "Input: terrible acting\nOutput: negative\n\n"
    "Input: a fun ride for the whole family\nOutput: positive\n\n"
)
REQUESTS = [R(DEMO + f"Input: {q}\nOutput:", lab) for q in ("boring and slow", "I loved it") for lab in (" positive", " negative", " very negative indeed")]
REQUESTS += [R("", "Hello world"), R("Question: 2+2= ", "4")]
# fp32 log-probabilities from lm-eval 0.4.13 HFLM on the prepared folder (source sha256 b179c952...)
GOLDEN = [-4.13722, -0.05516, -17.43811, -1.15224, -0.65058, -17.28267, -20.45161, -4.29696]


@pytest.fixture(scope="module")
def smollm2(smollm2_dir):
    from taskmix.models import load_model

    return load_model(smollm2_dir, use_cache=False, show_progress=False, batch_size=4)


def test_smollm2_golden_logprobs(smollm2):
    got = smollm2.loglikelihood(REQUESTS)
    assert [round(r.logprob, 3) for r in got] == pytest.approx([round(g, 3) for g in GOLDEN], abs=2e-3)
    assert [r.n_tokens for r in got] == [1, 1, 3, 1, 1, 3, 2, 2]
    assert [r.is_greedy for r in got][:2] == [False, True]


@pytest.mark.slow
def test_smollm2_equals_lm_eval_hflm(smollm2, smollm2_dir):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    theirs = HFLM(pretrained=str(smollm2_dir), dtype="float32", batch_size=4, device="cpu")
    reqs = REQUESTS + [R("Input: hi  ", " there"), R(DEMO.strip(), "\n\nInput:")]
    out = theirs.loglikelihood([Instance("loglikelihood", None, (r.context, r.continuation), i) for i, r in enumerate(reqs)], disable_tqdm=True)
    ours = smollm2.loglikelihood(reqs)
    for mine, (lp, greedy) in zip(ours, out):
        assert mine.logprob == pytest.approx(lp, abs=1e-3)
        assert mine.is_greedy == greedy
