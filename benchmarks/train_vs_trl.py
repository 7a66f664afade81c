"""Training throughput of taskmix's loop against TRL's SFTTrainer, on the same data.

Same model (the prepared SmolLM2-135M folder), the same tokenised symbol-tuning prompts
(taskmix tokenises them once; TRL gets those ids with a completion mask, so both see
identical tokens), completion-only loss, full fine-tuning, the same dtype and batch size.

Two comparisons, alternated ``--repeats`` times (the machine is shared; medians reported):

* ``default``: each trainer with its own default batching -- taskmix length-bucketed
  batches, TRL its random sampler -- the figure a user gets (``speedup``);
* ``same_batches``: both in file order, so every step sees identical batches
  (``speedup_same_batches``); the first-step losses of this pair give ``first_loss_diff``.

Tokens per second count real (non-pad) tokens of the timed steps; the first step of each
run is a warm-up and is not timed.

    .venv/bin/python benchmarks/train_vs_trl.py --dtype bf16 --steps 4 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_TASKS = ("sst2", "mr", "sst5", "cola", "qqp", "mrpc", "trec", "tweeteval/offensive", "tweeteval/irony",
               "tweeteval/sentiment")


def build_prompts(args: argparse.Namespace, scratch: Path) -> Path:
    """A mixture folder with exactly ``args.n`` prompts (built from the mirror unless given)."""
    from taskmix.mixture.build import build_symbol_mixture
    from taskmix.mixture.config import MixtureConfig
    from taskmix.training.data import read_examples

    source = Path(args.mixture) if args.mixture else None
    if source is None:
        cap = -(-args.n // len(BENCH_TASKS))
        config = MixtureConfig(tasks=BENCH_TASKS, per_task_cap=cap, max_length=args.max_length,
                               tokenizer=str(args.model_dir), seed=args.seed)
        source = build_symbol_mixture(config, scratch / "mixture").out_dir
    rows = []
    for ex in read_examples(source):
        rows.append(json.dumps(ex.to_json()))
        if len(rows) == args.n:
            break
    if len(rows) < args.n:
        sys.exit(f"train_vs_trl: {source} has only {len(rows)} prompts, need {args.n}")
    out = scratch / "bench-mixture"
    out.mkdir()
    (out / "prompts.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


def run_taskmix(args: argparse.Namespace, data: Path, batching: str, scratch: Path) -> dict:
    from taskmix.training import TrainConfig, train
    from taskmix.training.rundir import read_loss_log

    out = Path(tempfile.mkdtemp(prefix="taskmix-", dir=scratch))
    os.rmdir(out)
    marks: list[float] = []
    config = TrainConfig(lr=args.lr, max_steps=1000, batch_size=args.batch_size, schedule="constant",
                         max_length=args.max_length, batching=batching, dtype=args.dtype, seed=args.seed,
                         save_every=0, progress=False, weight_decay=0.0)
    train(args.model_dir, data, out, config, stop_after=args.steps + 1,
          on_step=lambda step, loss: marks.append(time.perf_counter()))
    log = read_loss_log(out)
    tokens = log[-1]["tokens"] - log[0]["tokens"]
    return {"first_loss": log[0]["loss"], "tokens_per_s": tokens / (marks[-1] - marks[0]), "tokens": tokens}


def run_trl(args: argparse.Namespace, data: Path, batching: str, scratch: Path) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from taskmix.training.data import read_examples, tokenise

    tok = AutoTokenizer.from_pretrained(args.model_dir)
    t = tokenise(read_examples(data), tok, args.max_length)
    ids, masks = [], []
    for i in range(len(t)):
        seq = t.ids[t.offsets[i]:t.offsets[i + 1]].tolist()
        p = int(t.prompt_lens[i])
        ids.append(seq)
        masks.append([0] * p + [1] * (len(seq) - p))
    dataset = Dataset.from_dict({"input_ids": ids, "completion_mask": masks})
    record = {"losses": [], "tokens": [], "marks": []}

    class Trainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            record["tokens"].append(int(inputs["attention_mask"].sum()))
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            record["losses"].append(float((loss[0] if isinstance(loss, tuple) else loss).detach()))
            return loss

        def _get_train_sampler(self, train_dataset=None):
            if batching == "sequential":
                return torch.utils.data.SequentialSampler(train_dataset or self.train_dataset)
            return super()._get_train_sampler(train_dataset)

    class Marks(TrainerCallback):
        def on_step_end(self, *a, **k):
            record["marks"].append(time.perf_counter())

    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.float32)
    config = SFTConfig(
        output_dir=str(scratch / "trl-out"), per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1, max_steps=args.steps + 1, learning_rate=args.lr,
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
        bf16=args.dtype == "bf16", use_cpu=True, logging_steps=1, save_strategy="no", report_to="none",
        max_length=None, completion_only_loss=True, seed=args.seed, dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=config, train_dataset=dataset, processing_class=tok, callbacks=[Marks()])
    trainer.train()
    tokens = sum(record["tokens"][1:])
    return {"first_loss": record["losses"][0], "tokens_per_s": tokens / (record["marks"][-1] - record["marks"][0]),
            "tokens": tokens}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="model folder or alias")
    parser.add_argument("--mixture", help="existing mixture folder (default: build one from the mirror)")
    parser.add_argument("--n", type=int, default=200, help="prompts")
    parser.add_argument("--max-length", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per run (after one warm-up step)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated runs of the default pair")
    parser.add_argument("--same-repeats", type=int, default=1, help="alternated runs of the same-batches pair")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="bf16")
    parser.add_argument("--lr", type=float, default=1e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_vs_trl.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from taskmix.fileio import atomic_write_json
    from taskmix.models.prepare import resolve_model_dir

    args.model_dir = resolve_model_dir(args.model)
    runs: dict[str, list[dict]] = {k: [] for k in ("taskmix/default", "trl/default", "taskmix/same", "trl/same")}
    with tempfile.TemporaryDirectory(prefix="train_vs_trl-") as tmp:
        scratch = Path(tmp)
        data = build_prompts(args, scratch)
        for r in range(max(args.repeats, args.same_repeats)):
            order = []
            if r < args.repeats:
                order += [("taskmix", "bucket", "default"), ("trl", "random", "default")][:: -1 if r % 2 else 1]
            if r < args.same_repeats:
                order += [("taskmix", "sequential", "same"), ("trl", "sequential", "same")][:: -1 if r % 2 else 1]
            for who, batching, kind in order:
                fn = run_taskmix if who == "taskmix" else run_trl
                from accelerate.state import AcceleratorState

                AcceleratorState._reset_state(reset_partial_state=True)  # TRL and taskmix differ in precision
                res = fn(args, data, batching, scratch)
                runs[f"{who}/{kind}"].append(res)
                print(f"repeat {r + 1} {who:7s} {kind:8s} {res['tokens_per_s']:8.1f} tokens/s  "
                      f"first loss {res['first_loss']:.6f}", flush=True)

    med = {k: statistics.median(x["tokens_per_s"] for x in v) for k, v in runs.items()}
    first_diff = max(abs(a["first_loss"] - b["first_loss"]) for a, b in zip(runs["taskmix/same"], runs["trl/same"]))
    import torch
    import trl

    result = {
        "speedup": round(med["taskmix/default"] / med["trl/default"], 3),
        "speedup_same_batches": round(med["taskmix/same"] / med["trl/same"], 3),
        "first_loss_diff": first_diff,
        "dtype": args.dtype,
        "model": str(args.model),
        "tokens_per_s_median": {k: round(v, 1) for k, v in med.items()},
        "runs": runs,
        "n_prompts": args.n, "batch_size": args.batch_size, "max_length": args.max_length,
        "timed_steps": args.steps, "repeats": args.repeats, "same_repeats": args.same_repeats,
        "versions": {"torch": torch.__version__, "trl": trl.__version__},
        "command": " ".join(shlex.quote(a) for a in [".venv/bin/python", "benchmarks/train_vs_trl.py", *(argv or sys.argv[1:])]),
        "machine": " ".join(x for x in (platform.machine(), platform.processor()) if x)
        + f", {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    atomic_write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("speedup", "speedup_same_batches", "first_loss_diff", "dtype")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
