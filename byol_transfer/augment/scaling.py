"""Raw pixel values → floats on the device, and per-channel normalisation.

Both run on the batch after ``.to(device)`` so the DataLoader ships compact uint8/uint16 tensors.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..config import NormalizeSpec, ScalingSpec
from ..errors import UserError

_AUTO_DIVISOR = {torch.uint8: 255.0, torch.uint16: 65535.0}


def scales_to_unit_range(spec: ScalingSpec, dtype: torch.dtype) -> bool:
    """Whether values end up in [0, 1] (what ops such as solarize assume)."""
    if spec.kind == "auto":
        return dtype in _AUTO_DIVISOR
    if spec.kind == "divide":
        return True  # the user declared the divisor that maps their data to [0, 1]
    return False


class ValueScaling(nn.Module):
    def __init__(self, spec: ScalingSpec) -> None:
        super().__init__()
        if spec.kind == "divide" and not spec.value:
            raise UserError("scaling kind 'divide' needs a non-zero 'value' (e.g. 10000 for Sentinel-2)")
        self.spec = spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.kind == "divide":
            return x.float() / float(self.spec.value)  # type: ignore[arg-type]
        if self.spec.kind == "auto" and x.dtype in _AUTO_DIVISOR:
            return x.float() / _AUTO_DIVISOR[x.dtype]
        return x.float()


class Normalize(nn.Module):
    """(x − mean) / std per channel; mean and std are buffers so they follow the module's device."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        if any(s <= 0 for s in std):
            raise UserError(f"normalisation std must be positive, got {std}")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def resolve_normalization(spec: NormalizeSpec, in_chans: int, where: str) -> tuple[list[float], list[float]]:
    """Per-channel mean/std from the spec: explicit values, a stats.json, or identity."""
    if spec.stats:
        path = Path(spec.stats)
        try:
            stats = json.loads(path.read_text())
            mean, std = stats["mean"], stats["std"]
        except FileNotFoundError:
            raise UserError(f"{where}: stats file not found: {path}") from None
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{where}: {path} is not a stats.json with 'mean' and 'std' lists") from None
    else:
        mean = spec.mean if spec.mean is not None else [0.0]
        std = spec.std if spec.std is not None else [1.0]
    mean, std = list(map(float, mean)), list(map(float, std))
    for label, values in (("mean", mean), ("std", std)):
        if len(values) not in (1, in_chans):
            raise UserError(
                f"{where}: normalisation {label} has {len(values)} values for {in_chans}-channel data"
            )
    return (mean * in_chans if len(mean) == 1 else mean), (std * in_chans if len(std) == 1 else std)
