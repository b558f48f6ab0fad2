"""Solarize (x ↦ 1 − x above a threshold) for the selected samples only; Kornia's ``RandomSolarize`` semantics.

Only meaningful for values in [0, 1], so the op declares ``needs_unit_range`` and a recipe whose scaling
does not put the data there is refused before training.
"""

from __future__ import annotations

from typing import Any, Optional

import kornia.augmentation as K
import torch

from . import register_op
from ._selected import PRIVATE_INPUT, SelectedSamples


class FastSolarize(SelectedSamples, K.RandomSolarize):
    per_sample_params = ("thresholds", "additions")

    def apply_transform(self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any],
                        transform: Optional[torch.Tensor] = None) -> torch.Tensor:
        def column(name: str) -> torch.Tensor:
            return params[name].to(device=input.device, dtype=input.dtype, non_blocking=True).view(-1, 1, 1, 1)

        x = input.clamp_(0.0, 1.0) if flags.get(PRIVATE_INPUT) else input.clamp(0.0, 1.0)
        if "additions" in params:
            x = x.add_(column("additions")).clamp_(0.0, 1.0)
        # x + above·(1 − 2x): the same values as where(x < t, x, 1 − x) without CPU-slow torch.where.
        above = torch.ge(x, column("thresholds")).to(x.dtype)
        return x.addcmul_(above, 1.0 - 2.0 * x)


@register_op("solarize", needs_unit_range=True)
def solarize(image_size: int, in_chans: int, p: float = 0.2, threshold: float = 0.5) -> FastSolarize:
    """x ↦ 1 − x above ``threshold`` (values must lie in [0, 1])."""
    # Kornia samples the threshold from 0.5 ± thresholds; BYOL uses a fixed 0.5.
    return FastSolarize(thresholds=(float(threshold), float(threshold)), additions=0.0, p=p)
