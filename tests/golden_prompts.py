"""Golden prompts: digests of evaluation and mixture prompts made from real tasks of the mirror.

The digests in ``tests/golden/*.json`` were written by the prompt code of commit 1239f62
(before evaluation and tuning prompts shared one composer) with::

    python -m tests.golden_prompts --write

``tests/test_golden_prompts.py`` recomputes them with today's code: every published result
stays reproducible only while they match byte for byte. Only sha256 digests and ids are
stored, never the data's text.

The cases cover both protocols (fresh exemplars, one shared block), every setting that
applies, fixed and random formats, two seeds, a token budget that makes exemplars be dropped
(and some queries not fit), free-form tasks, and three mixture configs (the demo's, the
symbol-tuning experiment's, and a character-estimate one restricted to symbol kind and
formats).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
EVAL_FILE = GOLDEN_DIR / "eval_prompts.json"
MIXTURE_FILE = GOLDEN_DIR / "mixture_prompts.json"

EVAL_TASKS = ("subj", "tweeteval/hate", "tweeteval/stance_atheism", "tweeteval/emotion", "ade", "cb", "trec")
N_QUERIES = 10
# (name, options, seed, budget in SmolLM2 tokens or None)
EVAL_VARIANTS: tuple[tuple[str, dict[str, Any], int, int | None], ...] = (
    ("fresh-k4", {"k": 4}, 0, None),
    ("shared-k4", {"k": 4, "shared_demos": True}, 0, None),
    ("fresh-k2-budget", {"k": 2}, 1, 200),
    ("shared-k4-budget", {"k": 4, "shared_demos": True}, 2, 300),
    ("fresh-qa-seed3", {"k": 3, "format": "q_a"}, 3, None),
)
FREEFORM = (
    ("bigbench/list_functions/c001", {"k": 4, "format": "input_output"}, "noinstr_labels"),
    ("bigbench/list_functions/c007", {"k": 4, "format": "input_output", "shared_demos": True}, "noinstr_labels"),
    ("bigbench/simp_turing_concept", {"k": 0, "format": "raw"}, "noinstr_labels"),
)
MIXTURE_CONFIGS: tuple[tuple[str, dict[str, Any], bool], ...] = (
    # (cb cannot fit 2 exemplars per class in 384 tokens: the whole build failed at 1239f62)
    ("demo", {"tasks": ("sst2", "mr", "sst5", "trec", "tweeteval/irony", "cola"), "per_task_cap": 12,
              "max_exemplars_per_class": 4, "max_length": 384}, True),
    ("symbol-tuning", {"per_task_cap": 12, "min_exemplars_per_class": 2, "max_exemplars_per_class": 10,
                       "max_length": 512, "instruction_share": 0.2}, True),
    ("estimate", {"per_task_cap": 8, "max_length": 700, "instruction_share": 0.5, "symbol_kind": "letters",
                  "formats": ("q_a", "x_y", "inp_out_arrow"), "seed": 7}, False),
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prompt_record(p: Any) -> dict[str, Any]:
    """What is pinned of one evaluation prompt: its ids and one digest of everything else."""
    pinned = {
        "text": p.text, "prefix": p.prefix, "candidates": p.candidates, "answer": p.answer, "target": p.target,
        "format": p.format_name, "exemplars": p.exemplar_uids, "label_map": p.label_map,
        "dropped": p.dropped_exemplars, "seed": p.seed,
    }
    return {"task": p.task, "uid": p.example_uid, "setting": p.setting, "dropped": p.dropped_exemplars,
            "sha": sha(json.dumps(pinned, sort_keys=True, ensure_ascii=False))}


def _queries(task: Any) -> tuple[Any, ...]:
    split = "test" if task.has_split("test") else "validation"
    return task.split(split)[:N_QUERIES]


def eval_records(count_tokens: Callable[[str], int]) -> Iterator[dict[str, Any]]:
    """Every pinned evaluation prompt (or the one-line error a case gives)."""
    from taskmix.catalogue import load_task
    from taskmix.errors import TaskmixError
    from taskmix.prompts.builder import SETTING_NAMES, PromptOptions, build_prompt, build_prompts, setting_applies

    for name in EVAL_TASKS:
        task = load_task(name)
        queries = _queries(task)
        for variant, opts, seed, budget in EVAL_VARIANTS:
            options = PromptOptions(max_tokens=budget, **opts)
            counter = count_tokens if budget else None
            for setting in SETTING_NAMES:
                if not setting_applies(task, setting):
                    continue
                if options.shared_demos:
                    try:
                        prompts = build_prompts(task, queries, setting, options, seed, counter)
                    except TaskmixError as e:
                        yield {"case": variant, "task": name, "setting": setting, "error": str(e)}
                        continue
                    for p in prompts:
                        yield {"case": variant, **prompt_record(p)}
                    continue
                for q in queries:  # one at a time, so a query that does not fit is pinned too
                    try:
                        p = build_prompt(task, q, setting, options, seed, counter)
                    except TaskmixError as e:
                        yield {"case": variant, "task": name, "uid": q.uid, "setting": setting, "error": str(e)}
                        continue
                    yield {"case": variant, **prompt_record(p)}
    for name, opts, setting in FREEFORM:
        task = load_task(name)
        for p in build_prompts(task, _queries(task), setting, PromptOptions(**opts), 0, None):
            yield {"case": "freeform", **prompt_record(p)}


MIXTURE_FIELDS = ("prompt", "target", "uid", "task", "kind", "format", "n_exemplars")


def mixture_records(tokenizer: Any) -> Iterator[dict[str, Any]]:
    """Every pinned mixture prompt of the three configs (tuning tasks of the mirror)."""
    from taskmix.mixture.build import build_symbol_mixture
    from taskmix.mixture.config import MixtureConfig

    for name, fields, use_tokenizer in MIXTURE_CONFIGS:
        config = MixtureConfig(**fields)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "mix"
            build_symbol_mixture(config, out, tokenizer=tokenizer if use_tokenizer else None)
            with (out / "prompts.jsonl").open(encoding="utf-8") as f:
                for line in f:
                    obj = json.loads(line)
                    pinned = {k: obj[k] for k in MIXTURE_FIELDS}
                    yield {"config": name, "uid": obj["uid"],
                           "sha": sha(json.dumps(pinned, sort_keys=True, ensure_ascii=False))}


def smollm2_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from taskmix.models.prepare import prepare_model

    return AutoTokenizer.from_pretrained(str(prepare_model("smollm2-135m", quiet=True)))


def counter_for(tokenizer: Any) -> Callable[[str], int]:
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print("usage: python -m tests.golden_prompts --write", file=sys.stderr)
        return 2
    tok = smollm2_tokenizer()
    GOLDEN_DIR.mkdir(exist_ok=True)
    for path, records in ((EVAL_FILE, eval_records(counter_for(tok))), (MIXTURE_FILE, mixture_records(tok))):
        rows = list(records)
        path.write_text("[\n" + ",\n".join(json.dumps(r, sort_keys=True) for r in rows) + "\n]\n", encoding="utf-8")
        print(f"{path.name}: {len(rows)} records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
