"""Raw pixel values → floats on the device, and per-channel normalisation.

Both run on the batch after ``.to(device)`` so the DataLoader ships compact uint8/uint16 tensors.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import NormalizeSpec, ScalingSpec
from ..errors import UserError

_AUTO_DIVISOR = {torch.uint8: 255.0, torch.uint16: 65535.0}


def scales_to_unit_range(spec: ScalingSpec, dtype: torch.dtype) -> bool:
    """Whether values end up in [0, 1] (what ops such as solarize assume)."""
    if spec.kind == "auto":
        return dtype in _AUTO_DIVISOR
    if spec.kind in ("divide", "percentile_clip", "ct_window"):
        return True  # the user declared the divisor, bounds or window that map their data to [0, 1]
    return False


class ValueScaling(nn.Module):
    """Raw values → floats per the spec. ``in_chans`` (when known) checks per-band bounds early."""

    def __init__(self, spec: ScalingSpec, in_chans: int | None = None) -> None:
        super().__init__()
        if spec.kind == "divide" and not spec.value:
            raise UserError("scaling kind 'divide' needs a non-zero 'value' (e.g. 10000 for Sentinel-2)")
        self.spec = spec
        low, high = _bounds(spec)
        if low is not None:
            if in_chans is not None and len(low) not in (1, in_chans):
                raise UserError(
                    f"scaling {spec.kind}: {len(low)} bounds for {in_chans}-channel data"
                    + (f" ({spec.stats})" if spec.stats else "")
                )
            self.register_buffer("low", torch.tensor(low, dtype=torch.float32).view(1, -1, 1, 1))
            span = torch.tensor(high, dtype=torch.float32) - torch.tensor(low, dtype=torch.float32)
            self.register_buffer("span", span.view(1, -1, 1, 1))
        else:
            self.low = self.span = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.kind == "divide":
            return x.float() / float(self.spec.value)  # type: ignore[arg-type]
        if self.spec.kind == "auto" and x.dtype in _AUTO_DIVISOR:
            return x.float() / _AUTO_DIVISOR[x.dtype]
        if self.low is not None:
            if self.low.shape[1] not in (1, x.shape[1]):
                raise UserError(
                    f"scaling {self.spec.kind}: {self.low.shape[1]} bounds for {x.shape[1]}-channel data"
                )
            return ((x.float() - self.low) / self.span).clamp_(0.0, 1.0)
        return x.float()


def _bounds(spec: ScalingSpec) -> tuple[list[float] | None, list[float] | None]:
    """Per-band [low, high] for the clipping kinds, validated; (None, None) for the others."""
    if spec.kind == "ct_window":
        if spec.center is None or not spec.width or spec.width <= 0:
            raise UserError("scaling kind 'ct_window' needs 'center' and a positive 'width' (e.g. 40 and 400 HU)")
        return [spec.center - spec.width / 2], [spec.center + spec.width / 2]
    if spec.kind != "percentile_clip":
        return None, None
    if spec.low is not None or spec.high is not None:
        if spec.low is None or spec.high is None or len(spec.low) != len(spec.high):
            raise UserError("scaling kind 'percentile_clip': give both 'low' and 'high', one value per band")
        low, high = list(map(float, spec.low)), list(map(float, spec.high))
    elif spec.stats:
        path = Path(spec.stats)
        try:
            stats = json.loads(path.read_text())
            low, high = list(map(float, stats["p1"])), list(map(float, stats["p99"]))
        except FileNotFoundError:
            raise UserError(f"scaling percentile_clip: stats file not found: {path}") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise UserError(f"scaling percentile_clip: {path} is not a stats.json with 'p1' and 'p99' lists") from None
    else:
        raise UserError("scaling kind 'percentile_clip' needs 'stats' (a stats.json) or 'low' and 'high'")
    if any(h <= lo for lo, h in zip(low, high)):
        raise UserError(f"scaling percentile_clip: every high bound must exceed its low bound (low {low}, high {high})")
    return low, high


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


def scaling_to_dict(scaling: ValueScaling) -> dict[str, Any]:
    """The scaling spec with percentile bounds written out, so no stats file is needed later."""
    spec = asdict(scaling.spec)
    if getattr(scaling, "low", None) is not None and scaling.spec.kind == "percentile_clip":
        low = scaling.low.flatten().cpu()
        spec.update(low=low.tolist(), high=(low + scaling.span.flatten().cpu()).tolist(), stats=None)
    return spec
