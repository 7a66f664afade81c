"""The number format a run computes in on this machine: ``dtype: auto`` and the bf16 check.

Where the hardware multiplies bf16 natively (CUDA GPUs that report bf16 support; x86 CPUs
with AVX512-BF16 or AMX) a bf16 matmul is about twice as fast as fp32. Elsewhere PyTorch
emulates it: on an AVX2-only CPU (an AMD EPYC without AVX-512) bf16 products ran at 0.3-1.0
GFLOP/s against 94-165 for fp32 (``benchmarks/peak_flops.py``), so a bf16 training or
evaluation run there is over a hundred times slower than the same run in fp32.

``auto`` (any config's ``dtype``, ``--dtype auto``) picks bf16 where it is the faster of the
two and fp32 elsewhere: on a CUDA device it asks PyTorch; on a CPU it times one small
product in each format, once per process (well under a second). The choice is made before
anything is keyed or written, so run records, stage keys and model fingerprints hold the
format that was used, never ``auto``. An explicit ``bf16`` is kept (it reproduces bf16
results) but, on a CPU where it is the slower format, prints one warning with both speeds.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from typing import Any, TypeVar

C = TypeVar("C")

#: What ``auto`` stands for in a config.
AUTO = "auto"
_PROBE_SIZE = 256  # a 256^3 product: 34 MFLOP, under 40 ms even at emulated-bf16 speed
_PROBE_SECONDS = 0.02


def device_type(for_training: bool) -> str:
    """The device a run uses: training goes to CUDA when there is one (as accelerate does),
    evaluation runs on the CPU."""
    if not for_training:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=None)
def cpu_matmul_gflops(dtype: str) -> float:
    """GFLOP/s of a square ``dtype`` (``fp32`` or ``bf16``) matmul on this CPU, measured once
    per process after one warm-up product."""
    import torch

    torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(_PROBE_SIZE, _PROBE_SIZE, generator=gen).to(torch_dtype)
    b = torch.randn(_PROBE_SIZE, _PROBE_SIZE, generator=gen).to(torch_dtype)
    a @ b
    n, t0 = 0, time.perf_counter()
    while True:
        a @ b
        n += 1
        seconds = time.perf_counter() - t0
        if seconds >= _PROBE_SECONDS:
            return 2 * _PROBE_SIZE**3 * n / seconds / 1e9


def bf16_is_faster(device: str) -> bool:
    """Whether bf16 is the faster format on ``device`` (``cpu`` or ``cuda``)."""
    if device == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    return cpu_matmul_gflops("bf16") > cpu_matmul_gflops("fp32")


def concrete_dtype(dtype: str, device: str) -> str:
    """``dtype`` (``fp32``, ``bf16`` or ``auto``) as the format to use on ``device``:
    ``auto`` becomes ``bf16`` where that is faster and ``fp32`` elsewhere; ``fp32`` and
    ``bf16`` stay as asked (``bf16`` on a CPU where it is slower warns once, see module doc)."""
    if dtype == AUTO:
        return "bf16" if bf16_is_faster(device) else "fp32"
    if dtype == "bf16" and device == "cpu" and not bf16_is_faster(device):
        _warn_slow_bf16()
    return dtype


def with_concrete_dtype(config: C, device: str) -> C:
    """A config (any frozen dataclass with a ``dtype`` field) with :func:`concrete_dtype`
    applied; ``config`` itself when nothing changes."""
    current: Any = getattr(config, "dtype")
    dtype = concrete_dtype(current, device)
    return config if dtype == current else dataclasses.replace(config, dtype=dtype)  # type: ignore[type-var]


@functools.lru_cache(maxsize=None)
def _warn_slow_bf16() -> None:
    print(f"taskmix: warning: this CPU has no native bf16: a bf16 matmul runs at "
          f"{cpu_matmul_gflops('bf16'):.1f} GFLOP/s against {cpu_matmul_gflops('fp32'):.0f} in fp32, so this "
          f"bf16 run will be very slow; dtype auto (or fp32) computes in fp32 here", file=sys.stderr)
