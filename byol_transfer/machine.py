"""What a run ran on, for its run.json: CPU model and flags, GPU, library versions, load.

CPUs differ between our machines (AVX2-only AMD EPYC, where bf16 autocast is ~20x slower than fp32;
Intel Xeon with AMX / AVX-512 BF16, where it is ~1.5x faster), so every published figure records them.
Used by the label-efficiency and segmentation sweeps, the training loop's bf16 check and the benchmarks.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

# flags that decide which kernels torch can use on this CPU (bf16 is emulated, ~20x slower, without them)
KEY_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma")


def cpu_model_and_flags() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine(), []
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = value.split()
    return model, flags


def versions(*packages: str) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX-512 BF16 or AMX) rather than emulating it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def describe_machine(*packages: str) -> dict[str, Any]:
    """The facts a reader needs to compare figures across runs; ``packages``: versions to record."""
    model, flags = cpu_model_and_flags()
    native_bf16 = cpu_has_native_bf16()
    info: dict[str, Any] = {
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "cpu_key_flags": [f for f in KEY_FLAGS if f in flags],
        "cpu_flags": " ".join(flags),
        "cpu_native_bf16": native_bf16,
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "versions": versions(*packages),
        "command": " ".join(sys.argv),
    }
    return info
