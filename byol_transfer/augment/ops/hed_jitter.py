"""HED stain jitter for H&E histology: perturb haematoxylin, eosin and DAB concentrations per sample.

Colour differences between histology labs come from stain amounts and scanners, not from hue rotations:
hue jitter produces colours no slide has. Following Tellez et al. (2018, "Whole-slide mitosis detection in
H&E breast histology using PHH3 as a reference to train distilled stain-invariant convolutional networks"),
RGB is converted to optical density, unmixed into H, E and DAB with Ruifrok & Johnston's stain matrix (as
scikit-image's ``rgb2hed``), each stain is scaled by α ~ U(1 − alpha, 1 + alpha) and shifted by
β ~ U(−beta, beta) (in scikit-image's stain units), and mixed back. Negative stain amounts are not clamped,
so α = 1, β = 0 returns the input. The whole round trip is linear in optical density, so it runs as one
3×3 matrix per sample.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from kornia.augmentation import IntensityAugmentationBase2D

from . import register_op
from ._selected import SelectedSamples

# Rows: the RGB optical-density vectors of haematoxylin, eosin and DAB (Ruifrok & Johnston 2001).
RGB_FROM_HED = ((0.65, 0.70, 0.29), (0.07, 0.99, 0.11), (0.27, 0.57, 0.78))
_EPS = 1e-6  # darkest intensity before the logarithm, as scikit-image
_STAIN_UNIT = -math.log(_EPS)  # scikit-image divides optical density by this


class RandomHEDJitter(SelectedSamples, IntensityAugmentationBase2D):
    per_sample_params = ("hed_alpha", "hed_beta")

    def __init__(self, alpha: float = 0.05, beta: float = 0.05, p: float = 1.0,
                 same_on_batch: bool = False, keepdim: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        if not 0 <= alpha < 1 or beta < 0:
            raise ValueError(f"need 0 <= alpha < 1 and beta >= 0, got alpha={alpha}, beta={beta}")
        self.alpha, self.beta = float(alpha), float(beta)
        rgb_from_hed = torch.tensor(RGB_FROM_HED, dtype=torch.float64)
        self.register_buffer("rgb_from_hed", rgb_from_hed.float(), persistent=False)
        self.register_buffer("hed_from_rgb", torch.linalg.inv(rgb_from_hed).float(), persistent=False)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        n = batch_shape[0]
        draws = torch.rand(1 if self.same_on_batch else n, 2, 3, device=self.device).expand(n, -1, -1)
        return {"hed_alpha": 1 + self.alpha * (2 * draws[:, 0] - 1), "hed_beta": self.beta * (2 * draws[:, 1] - 1)}

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        n, channels, h, w = input.shape
        if channels != 3:
            raise ValueError(f"hed_jitter needs 3-channel RGB input, got {channels} channels")
        alpha = params["hed_alpha"].to(device=input.device, dtype=input.dtype, non_blocking=True)
        beta = params["hed_beta"].to(device=input.device, dtype=input.dtype, non_blocking=True)
        hed_from_rgb = self.hed_from_rgb.to(input)
        rgb_from_hed = self.rgb_from_hed.to(input)
        # Row-vector convention (per pixel): od' = od·H·diag(α)·R + unit·β·R.
        mixing = (hed_from_rgb * alpha[:, None, :]) @ rgb_from_hed  # N×3×3
        offset = _STAIN_UNIT * beta @ rgb_from_hed  # N×3
        density = input.clamp(min=_EPS, max=1.0).log_().neg_().view(n, 3, h * w)
        shifted = torch.baddbmm(offset[:, :, None], mixing.transpose(1, 2), density)
        return shifted.neg_().exp_().clamp_(max=1.0).view(n, 3, h, w)


@register_op("hed_jitter", channels="rgb", needs_unit_range=True)
def hed_jitter(image_size: int, in_chans: int, p: float = 1.0, alpha: float = 0.05,
               beta: float = 0.05) -> RandomHEDJitter:
    """H&E stain jitter: scale (1 ± alpha) and shift (± beta) haematoxylin, eosin and DAB per sample."""
    return RandomHEDJitter(alpha, beta, p=p)
