"""Measure this machine's fp32 matmul peak (FLOP/s) with torch.matmul, per thread count.

The denominator of ``peak_fraction`` in ``eval_vs_lm_eval.py`` (which re-measures it in
the same process right before each timed run). Writes ``benchmarks/results/peak_flops.json``.

Run: ``.venv/bin/python benchmarks/peak_flops.py [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def matmul_peak(n: int, seconds: float) -> tuple[float, float]:
    """(best, median) FLOP/s of ``n x n`` fp32 products over ``seconds``."""
    import statistics

    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    rates, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        torch.matmul(a, b)
        rates.append(2 * n**3 / (time.perf_counter() - t))
    return max(rates), statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fp32 matmul peak per thread count")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--sizes", default="1024,2048,4096")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "peak_flops.json"))
    args = parser.parse_args(argv)
    import torch

    from taskmix.fileio import atomic_write_json

    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        for n in (int(x) for x in args.sizes.split(",")):
            best, median = matmul_peak(n, args.seconds)
            rows.append({"threads": threads, "n": n, "best_gflops": round(best / 1e9, 2), "median_gflops": round(median / 1e9, 2)})
            print(rows[-1], flush=True)
    atomic_write_json(
        args.out,
        {
            "measurements": rows,
            "command": "python benchmarks/peak_flops.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} when written",
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
