"""Where training Gemma 3 270M spends memory and time: full fine-tuning, with its embedding
table frozen, LoRA, and each with gradient checkpointing.

Each variant trains in a fresh process (``taskmix train``) for a few steps on the same
mixture and reports peak resident memory (``/usr/bin/time``-style, from ``resource``),
tokens per second (``run.json``) and the trainable parameters. The model's parameters are
counted once: the 262,144 x 640 embedding table, tied to the output layer, is most of them.

    python benchmarks/train_memory.py --model gemma3-270m --data mixtures/gemma-512 --steps 4 \\
        --out benchmarks/results/train_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

VARIANTS = {
    "full": ["--full"],
    "full, frozen embeddings": ["--full", "--freeze-embeddings"],
    "full, gradient checkpointing": ["--full", "--gradient-checkpointing"],
    "lora": ["--lora"],
    "lora, gradient checkpointing": ["--lora", "--gradient-checkpointing"],
}


def parameter_counts(model: str) -> dict[str, int]:
    import torch
    from transformers import AutoModelForCausalLM

    from taskmix.models.prepare import resolve_model_dir

    m = AutoModelForCausalLM.from_pretrained(resolve_model_dir(model), dtype=torch.float32)
    total = sum(p.numel() for p in m.parameters())
    emb = m.get_input_embeddings().weight.numel()
    tied = m.get_output_embeddings().weight is m.get_input_embeddings().weight
    return {"total": total, "embedding": emb, "output_tied_to_embedding": int(tied)}


def run_variant(model: str, data: str, steps: int, batch: int, max_length: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "taskmix", "train", "--model", model, "--data", data, "--out", f"{tmp}/run",
               "--dtype", "bf16", "--steps", str(steps), "--batch-size", str(batch), "--max-length",
               str(max_length), "--save-every", "0", "--no-progress", *extra]
        t0 = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter() - t0
        log = [json.loads(x) for x in Path(f"{tmp}/run/loss.jsonl").read_text().splitlines() if x.strip()]
        last = [r for r in log if "loss" in r][-1]
        return {"command": " ".join(cmd[1:]).replace(tmp, "TMP"), "peak_rss_mb": round(after.ru_maxrss / 1024),
                "wall_seconds": round(wall, 1), "cpu_seconds": round((after.ru_utime + after.ru_stime)
                                                                       - (before.ru_utime + before.ru_stime), 1),
                "tokens_per_s": last["tokens_per_s"], "last_loss": last["loss"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--data", required=True, help="a mixture built with the model's tokenizer")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--out", default="benchmarks/results/train_memory.json")
    args = ap.parse_args(argv)
    rows = {}
    for name, extra in VARIANTS.items():  # ru_maxrss of children is the max over them: fresh parent each time
        res = subprocess.run([sys.executable, __file__, "--one", json.dumps([args.model, args.data, args.steps,
                              args.batch_size, args.max_length, extra])], check=True, capture_output=True, text=True)
        rows[name] = json.loads(res.stdout)
        print(name, rows[name], file=sys.stderr, flush=True)
    result = {
        "parameters": parameter_counts(args.model), "variants": rows,
        "command": "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_average_end": os.getloadavg(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result["variants"]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_variant(*json.loads(sys.argv[2]))))
        raise SystemExit(0)
    raise SystemExit(main())
