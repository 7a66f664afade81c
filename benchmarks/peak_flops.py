"""Measure this machine's fp32 and bf16 matmul peaks (FLOP/s) with torch.matmul, per thread count.

fp32 is the denominator of ``peak_fraction`` in ``eval_vs_lm_eval.py`` (which re-measures it
in the same process right before each timed run). bf16 says whether this CPU multiplies bf16
natively (about twice fp32) or emulates it (a hundred times slower), which is what
``dtype: auto`` decides from its own small probe (:mod:`taskmix.models.precision`); the file
records that probe's choice and the CPU's bf16 flags beside the measurements. Writes
``benchmarks/results/peak_flops.json``.

Run: ``.venv/bin/python benchmarks/peak_flops.py [--seconds 3] [--dtypes fp32,bf16]``.
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


def matmul_peak(n: int, seconds: float, dtype: str = "fp32") -> tuple[float, float]:
    """(best, median) FLOP/s of ``n x n`` ``dtype`` (``fp32`` or ``bf16``) products over
    ``seconds`` (at least one product)."""
    import statistics

    import torch

    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    a, b = torch.randn(n, n).to(torch_dtype), torch.randn(n, n).to(torch_dtype)
    torch.matmul(a, b)
    rates, end = [], time.perf_counter() + seconds
    while not rates or time.perf_counter() < end:
        t = time.perf_counter()
        torch.matmul(a, b)
        rates.append(2 * n**3 / (time.perf_counter() - t))
    return max(rates), statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="fp32 and bf16 matmul peaks per thread count")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--sizes", default="1024,2048,4096")
    parser.add_argument("--dtypes", default="fp32,bf16", help="comma-separated: fp32, bf16")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "peak_flops.json"))
    args = parser.parse_args(argv)
    import torch

    from taskmix.fileio import atomic_write_json
    from taskmix.models.precision import concrete_dtype, cpu_matmul_gflops

    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if not dtypes or set(dtypes) - {"fp32", "bf16"}:
        print(f"peak_flops: --dtypes must list fp32 and/or bf16, got {args.dtypes!r}", file=sys.stderr)
        return 2
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        for dtype in dtypes:
            for n in (int(x) for x in args.sizes.split(",")):
                best, median = matmul_peak(n, args.seconds, dtype)
                rows.append({"threads": threads, "dtype": dtype, "n": n,
                             "best_gflops": round(best / 1e9, 2), "median_gflops": round(median / 1e9, 2)})
                print(rows[-1], flush=True)
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").is_file() else set()
    atomic_write_json(
        args.out,
        {
            "measurements": rows,
            "auto": {"probe_gflops": {d: round(cpu_matmul_gflops(d), 2) for d in ("fp32", "bf16")},
                     "chooses": concrete_dtype("auto", "cpu"),
                     "cpu_bf16_flags": sorted(flags & {"avx512_bf16", "amx_bf16", "amx_tile", "avx512f"})},
            "command": "python benchmarks/peak_flops.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}, torch {torch.__version__}, load average {os.getloadavg()[0]:.1f} when written",
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
