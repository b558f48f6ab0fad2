"""Stock Kornia ops, wrapped so a recipe can name them. Parameters follow Kornia's names.

All run batched with per-sample random parameters (Kornia's default ``same_on_batch=False``), through
:class:`SelectedSamples`: Kornia's own math, computed only for the samples the probability picked and in
cache-sized chunks. Ops where Kornia's implementation itself was the bottleneck (crop, flips, colour jitter,
grayscale, blur, solarize, noise) have a faster subclass with the same semantics in their own module; see
``docs/benchmarks.md``.
"""

from __future__ import annotations

import kornia.augmentation as K

from . import register_op
from ._selected import SelectedSamples


class SelectedRotation(SelectedSamples, K.RandomRotation):
    per_sample_params = ("degrees",)


class SelectedBrightness(SelectedSamples, K.RandomBrightness):
    per_sample_params = ("brightness_factor",)


class SelectedContrast(SelectedSamples, K.RandomContrast):
    per_sample_params = ("contrast_factor",)


def _pair(value: float | list[float]) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    low, high = value
    return (float(low), float(high))


@register_op("rotation", geometric=True)
def rotation(image_size: int, in_chans: int, p: float = 0.5, degrees: float = 10.0) -> SelectedRotation:
    """Rotate by a small random angle in [-degrees, degrees]."""
    return SelectedRotation(degrees=float(degrees), p=p)


@register_op("brightness")
def brightness(image_size: int, in_chans: int, p: float = 0.8, factor: float = 0.2) -> SelectedBrightness:
    """Add the same random offset in [-factor, factor] to every channel (any channel count)."""
    return SelectedBrightness(brightness=(1 - factor, 1 + factor), clip_output=False, p=p)


@register_op("contrast")
def contrast(image_size: int, in_chans: int, p: float = 0.8, factor: float = 0.2) -> SelectedContrast:
    """Scale every channel by the same random factor in [1 - factor, 1 + factor] (any channel count)."""
    return SelectedContrast(contrast=(1 - factor, 1 + factor), clip_output=False, p=p)
