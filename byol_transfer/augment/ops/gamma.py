"""Gamma: x ↦ x^γ with γ drawn per sample; Kornia's ``RandomGamma`` on the selected samples only.

For radiographs, gamma mimics differences in exposure and detector response curves better than an additive
brightness shift: it darkens or brightens mid-tones while keeping black and white fixed. Values must lie in
[0, 1] (Kornia clamps), so the op declares ``needs_unit_range``.
"""

from __future__ import annotations

import kornia.augmentation as K

from . import register_op
from ._selected import SelectedSamples
from .stock import _pair


class FastGamma(SelectedSamples, K.RandomGamma):
    per_sample_params = ("gamma_factor", "gain_factor")


@register_op("gamma", needs_unit_range=True)
def gamma(image_size: int, in_chans: int, p: float = 0.5, gamma: list[float] = (0.7, 1.5)) -> FastGamma:
    """x ↦ x^γ with γ uniform in the ``gamma`` range, per sample (values in [0, 1])."""
    low, high = _pair(gamma)
    if not 0 < low <= high:
        raise ValueError(f"gamma must be a range 0 < low <= high, got {list(_pair(gamma))}")
    return FastGamma(gamma=(low, high), gain=(1.0, 1.0), p=p)
