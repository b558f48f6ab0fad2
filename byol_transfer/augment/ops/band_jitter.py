"""Band-wise brightness and contrast: an independent gain and contrast factor per band and per sample.

Replaces ColorJitter for data without hue (multispectral, 1-channel medical): each band is stretched about
its own image mean by a contrast factor and multiplied by a gain, ``x' = g·(μ + c·(x − μ))``, with ``g`` and
``c`` drawn uniformly from ``1 ± brightness`` and ``1 ± contrast`` for every (sample, band). Independent
factors per band mimic sensor gain and atmospheric differences between bands; on one band it is ordinary
brightness/contrast jitter. Range-independent: values are not clamped unless ``clip=True``.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from kornia.augmentation import IntensityAugmentationBase2D

from . import register_op
from ._selected import SelectedSamples


class RandomBandBrightnessContrast(SelectedSamples, IntensityAugmentationBase2D):
    per_sample_params = ("band_gain", "band_contrast")
    neutral_params = {"band_gain": 1.0, "band_contrast": 1.0}  # x·1 + 1·0·μ = x exactly

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2, clip: bool = False, p: float = 0.8,
                 same_on_batch: bool = False, keepdim: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        for name, value in (("brightness", brightness), ("contrast", contrast)):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must lie in [0, 1), got {value}")
        self.brightness, self.contrast, self.clip = float(brightness), float(contrast), clip

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        n, channels = batch_shape[0], batch_shape[1]
        draws = torch.rand(1 if self.same_on_batch else n, 2, channels, device=self.device).expand(n, -1, -1)
        return {
            "band_gain": 1 + self.brightness * (2 * draws[:, 0] - 1),
            "band_contrast": 1 + self.contrast * (2 * draws[:, 1] - 1),
        }

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        def grid(name: str) -> torch.Tensor:
            value = params[name].to(device=input.device, dtype=input.dtype, non_blocking=True)
            if value.shape[1] != input.shape[1]:
                raise ValueError(f"parameters drawn for {value.shape[1]} bands, input has {input.shape[1]}")
            return value[:, :, None, None]

        gain, contrast = grid("band_gain"), grid("band_contrast")
        mean = input.mean(dim=(-2, -1), keepdim=True)
        # g·(μ + c·(x − μ)) = x·(g·c) + g·(1 − c)·μ: one fused pass over the images
        out = torch.addcmul(gain * (1 - contrast) * mean, input, gain * contrast)
        return out.clamp_(0.0, 1.0) if self.clip else out


@register_op("band_jitter")
def band_jitter(
    image_size: int,
    in_chans: int,
    p: float = 0.8,
    brightness: float = 0.2,
    contrast: float = 0.2,
    clip: bool = False,
) -> RandomBandBrightnessContrast:
    """Independent gain (1 ± brightness) and contrast (1 ± contrast) per band and sample; any band count."""
    return RandomBandBrightnessContrast(brightness, contrast, clip=bool(clip), p=p)
