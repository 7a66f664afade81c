"""Peak memory of building a symbol-tuning mixture (writes benchmarks/results/memory.json).

Runs ``taskmix build symbol`` in a child process (default: every tunable classification task,
uncapped: about 100,000 prompts) and records the child's peak resident set
size (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``), the wall time and the size of
what was written. With ``--also-cap N`` a smaller build with the same tasks is measured first:
if the builder streams prompts to disk, the peak barely changes while the output grows
many-fold (the peak is then set by the loaded task data, not by the mixture).

Every measurement runs in a fresh interpreter, so one build's memory never counts
towards another's: each build is its own ``python benchmarks/memory.py --child ...``
whose only child is the build.

Usage::

    TASKMIX_MIRROR=/work/shared/data .venv/bin/python benchmarks/memory.py --also-cap 500
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "memory.json"
# Every classification task of the catalogue that may be tuned on (the 16 default tuning
# tasks and the four 1,000-example review/topic tasks): their train splits hold 101,087
# examples, and a mixture has at most one prompt per query example, so the uncapped build
# (--cap 25000, the paper's cap) is the largest mixture the mirror's data allows.
TASKS = ("sst2", "mr", "sst5", "cola", "mnli", "qnli", "qqp", "mrpc", "rte", "snli", "cb", "trec", "agnews",
         "tweeteval/offensive", "tweeteval/irony", "tweeteval/sentiment", "imdb", "amazon", "yelp", "yahoo")


def build_command(out: Path, tasks: tuple[str, ...], cap: int, seed: int) -> list[str]:
    return [sys.executable, "-m", "taskmix", "build", "symbol", "--tasks", *tasks, "--cap", str(cap),
            "--seed", str(seed), "--out", str(out)]


def measure_child(out: Path, tasks: tuple[str, ...], cap: int, seed: int) -> dict:
    """Run one build as our only child and measure it (call in a fresh interpreter)."""
    cmd = build_command(out, tasks, cap, seed)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    manifest = json.loads((out / "manifest.json").read_text())
    jsonl = out / "prompts.jsonl"
    dataset_bytes = sum(p.stat().st_size for p in (out / "dataset").rglob("*") if p.is_file())
    return {
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "n_prompts": manifest["n_prompts"],
        "wall_s": round(wall, 1),
        "prompts_jsonl_mb": round(jsonl.stat().st_size / 2**20, 1),
        "dataset_mb": round(dataset_bytes / 2**20, 1),
        "content_sha256": manifest["content_sha256"],
        "per_task": {k: v["written"] for k, v in manifest["tasks"].items()},
        "command": " ".join(["taskmix", *cmd[3:-2], "--out", "OUT"]),
        "stdout": proc.stdout.strip(),
    }


def run_measurement(cap: int, tasks: tuple[str, ...], seed: int, scratch: Path) -> dict:
    out = scratch / f"mix-cap{cap}"
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(out), "--cap", str(cap), "--seed", str(seed), "--tasks", *tasks],
        capture_output=True, text=True,
    )
    if child.returncode != 0:
        raise SystemExit(child.stderr.strip()[-3000:])
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = 0.0
    return f"{cpu}, {os.cpu_count()} CPUs, {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cap", type=int, default=25_000, help="most prompts per task of the measured build")
    ap.add_argument("--also-cap", type=int, default=0, dest="also_cap",
                    help="also measure a smaller build with this cap per task first")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(RESULT), help="result JSON")
    ap.add_argument("--scratch", help="folder for the temporary mixtures (default: a temp folder)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    tasks = tuple(args.tasks)
    if args.child:
        print(json.dumps(measure_child(Path(args.child), tasks, args.cap, args.seed)))
        return 0

    scratch = Path(args.scratch) if args.scratch else Path(tempfile.mkdtemp(prefix="taskmix-memory-"))
    scratch.mkdir(parents=True, exist_ok=True)
    smaller = run_measurement(args.also_cap, tasks, args.seed, scratch) if args.also_cap else None
    main_run = run_measurement(args.cap, tasks, args.seed, scratch)
    result = {
        "what": "peak resident memory of `taskmix build symbol` (child process ru_maxrss)",
        **{k: main_run[k] for k in ("peak_rss_mb", "n_prompts", "wall_s", "command")},
        "prompts_jsonl_mb": main_run["prompts_jsonl_mb"],
        "dataset_mb": main_run["dataset_mb"],
        "content_sha256": main_run["content_sha256"],
        "per_task": main_run["per_task"],
        "benchmark_command": " ".join([".venv/bin/python", "benchmarks/memory.py", *sys.argv[1:]]),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": os.environ.get("TASKMIX_MIRROR", "") or "data cache",
    }
    if smaller:
        result["smaller_build"] = {k: smaller[k] for k in ("peak_rss_mb", "n_prompts", "wall_s", "prompts_jsonl_mb")}
        result["streams"] = (
            f"{main_run['n_prompts'] / max(1, smaller['n_prompts']):.0f}x the prompts "
            f"({main_run['prompts_jsonl_mb']} MB vs {smaller['prompts_jsonl_mb']} MB of JSONL) took "
            f"{main_run['peak_rss_mb'] - smaller['peak_rss_mb']:+.0f} MB more peak memory"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if not args.scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
