"""Which arithmetic a run uses: ``train.precision`` = ``fp32``, ``bf16`` or ``auto``.

Machines differ more than a default can: on CPUs with AMX or AVX-512-BF16, bf16 autocast runs a BYOL
step ~1.5x faster than fp32; on AVX2-only CPUs oneDNN emulates bf16 and the same step is ~20x *slower*
(both measured on this project's machines). So ``auto`` decides per machine, at start, and says why:

- CUDA: bf16 where the GPU supports it (``torch.cuda.is_bf16_supported``), else fp32;
- CPU: bf16 only if oneDNN reports native bf16 (the CPU flags) *and* a timed matmul confirms that bf16
  is not slower than fp32 here (about a second; a flag is not a measurement: a VM may report flags
  whose kernels are slow, or throttle them);
- anything else (MPS): fp32.

An explicit ``fp32`` or ``bf16`` is always used as given.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import torch

from ..machine import cpu_has_native_bf16

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Precision:
    name: str  # "fp32" or "bf16": what the run uses
    reason: str  # why, for the log and run records

    @property
    def dtype(self) -> torch.dtype | None:
        return torch.bfloat16 if self.name == "bf16" else None


def bf16_matmul_speedup(seconds: float = 1.0, size: int = 512) -> float:
    """fp32 time / bf16 time of a ``size``² matmul, each timed for about ``seconds`` / 2 (> 1: bf16 faster)."""

    def timed(dtype: torch.dtype) -> float:
        a = torch.randn(size, size, generator=torch.Generator().manual_seed(0)).to(dtype)
        b = a.t().contiguous()
        for _ in range(3):  # warm-up: oneDNN picks and JITs its kernel on the first calls
            a @ b
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            a @ b
            calls += 1
        return (time.perf_counter() - start) / calls

    return timed(torch.float32) / timed(torch.bfloat16)


def choose_precision(setting: str, device: torch.device, measure: Callable[[], float] | None = None) -> Precision:
    """The precision for ``setting`` on ``device``; ``measure`` is the CPU confirmation (replaceable in tests)."""
    if setting in ("fp32", "bf16"):
        return Precision(setting, "set explicitly")
    if setting != "auto":
        raise ValueError(f"unknown precision {setting!r}")
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision("bf16", "auto: the GPU supports bf16")
        return Precision("fp32", "auto: the GPU has no bf16 support")
    if device.type != "cpu":
        return Precision("fp32", f"auto: fp32 on {device.type}")
    if not cpu_has_native_bf16():
        return Precision("fp32", "auto: this CPU has no native bf16 (no AMX / AVX-512-BF16); emulated bf16 "
                                 "would be far slower")
    speedup = (measure or bf16_matmul_speedup)()
    if speedup >= 1.0:
        return Precision("bf16", f"auto: native bf16 on this CPU, matmul {speedup:.1f}x faster than fp32")
    return Precision("fp32", f"auto: the CPU reports native bf16 but a bf16 matmul ran {1 / speedup:.1f}x "
                             "slower than fp32 here")
