"""Colour jitter (brightness, contrast, saturation, hue) with Kornia's ``ColorJitter`` semantics, batched fast.

Kornia's ColorJitter spent 1.8 s on 256 images at 224 px on our 2-core CPU, most of it in a generic
RGB → HSV → RGB round trip, and computed every sample before discarding the 20% the gate skipped. This
subclass keeps Kornia's parameter generator and its formulas (torchvision's: multiply, blend with the
grayscale mean, blend with the grayscale, shift hue, clamping to [0, 1] after each step), and computes them
in place on the selected samples only. The order of the four steps is drawn *per sample*, as in the BYOL
paper and torchvision's per-image ``ColorJitter``; Kornia draws one order for the whole batch, so every
image of a batch would otherwise share it. The hue step shifts the
hexagonal HSV hue without building HSV planes: max, min and chroma are unchanged by a hue shift, so each
output channel is ``min + chroma · ramp(hue + shift)``. ``tests/augment/test_augment_fast_equivalence.py`` checks
the output against ``kornia.augmentation.ColorJitter`` on the same parameters.
"""

from __future__ import annotations

from typing import Any, Optional

import kornia.augmentation as K
import torch

from . import register_op
from ._selected import PRIVATE_INPUT, SelectedSamples

# ITU-R 601 luma, as kornia.color.rgb_to_grayscale and torchvision use.
LUMA = (0.299, 0.587, 0.114)
_KEYS = ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor")
_NEUTRAL = (1.0, 1.0, 1.0, 0.0)


def luma(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W → N×1×H×W weighted sum, three fused passes over one plane each."""
    gray = x[:, 0:1] * LUMA[0]
    gray.add_(x[:, 1:2], alpha=LUMA[1])
    return gray.add_(x[:, 2:3], alpha=LUMA[2])


def _column(factor: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return factor.to(device=x.device, dtype=x.dtype, non_blocking=True).view(-1, 1, 1, 1)


def adjust_brightness_(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return x.mul_(_column(factor, x)).clamp_(0.0, 1.0)


def adjust_contrast_(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = _column(factor, x)
    # The mean of the luma image is the luma of the per-channel means: one reduction instead of a plane.
    means = x.mean(dim=(-2, -1), keepdim=True)
    mean = (means * means.new_tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x.mul_(f).add_(mean * (1 - f)).clamp_(0.0, 1.0)


def adjust_saturation_(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    f = _column(factor, x)
    gray = luma(x)
    return x.mul_(f).addcmul_(gray, 1 - f).clamp_(0.0, 1.0)


def shift_hue_(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Shift HSV hue by ``factor`` turns (in [-0.5, 0.5]), in place; x in [0, 1].

    About 35 passes over one plane each, into seven scratch planes allocated once: on a CPU, fresh
    allocations (page faults) cost more than the arithmetic. Float masks instead of ``torch.where``,
    which is several times slower on CPU.
    """
    n, _, h, w = x.shape
    r, g, b = x.unbind(1)
    top, bottom, chroma, hue, tmp, red_max, green_max = x.new_empty(7, n, h, w).unbind(0)
    torch.amax(x, 1, out=top)
    torch.amin(x, 1, out=bottom)
    torch.sub(top, bottom, out=chroma)
    # The first maximal channel picks the sextant, as in Kornia's rgb_to_hsv.
    torch.eq(r, top, out=red_max)
    torch.eq(g, top, out=green_max)
    green_max.sub_(red_max).clamp_(min=0.0)
    # hue · chroma, in sextants: blue max (r − g) + 4C, green max (b − r) + 2C, red max (g − b)
    torch.sub(r, g, out=hue).add_(chroma, alpha=4.0)
    torch.sub(b, r, out=tmp).add_(chroma, alpha=2.0).sub_(hue).mul_(green_max)
    green_max.copy_(tmp)
    torch.sub(g, b, out=tmp).sub_(hue).mul_(red_max)
    hue.add_(tmp).add_(green_max)
    torch.clamp(chroma, min=torch.finfo(x.dtype).tiny, out=tmp)
    hue.div_(tmp)
    # Shift, plus 1 so that each channel's minimum (cyan, magenta, yellow) sits at 4, 0, 2 on a circle of 6.
    hue.add_(_column(factor, x).view(-1, 1, 1) * 6.0 + 1.0)
    torch.remainder(hue, 6.0, out=hue)
    for channel, minimum_at in enumerate((4.0, 0.0, 2.0)):
        # HSV's piecewise-linear channel curve: clamp(2 − ||hue − c| − 3|, 0, 1) is 0 within one sextant
        # of c on the hue circle and 1 beyond two; max and min (and so chroma) do not change with hue.
        torch.sub(hue, minimum_at, out=tmp).abs_().sub_(3.0).abs_().neg_().add_(2.0).clamp_(0.0, 1.0)
        torch.addcmul(bottom, chroma, tmp, out=x[:, channel])
    return x


_STEPS = (adjust_brightness_, adjust_contrast_, adjust_saturation_, shift_hue_)


class FastColorJitter(SelectedSamples, K.ColorJitter):
    """``kornia.augmentation.ColorJitter`` on RGB with a random step order per sample, computed in place and
    only for the selected samples. ``params["orders"]`` (N×4) holds each sample's order; parameters without
    it (Kornia's own) fall back to Kornia's one batch order ``params["order"]``."""

    per_sample_params = (*_KEYS, "orders")

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        params = super().generate_parameters(batch_shape)
        # Same RNG as Kornia's generator (torch's default), so a seeded run stays reproducible.
        params["orders"] = torch.rand(batch_shape[0], len(_STEPS)).argsort(dim=1)
        return params

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        if input.shape[1] != 3:
            raise ValueError(f"color_jitter needs 3-channel RGB input, got {input.shape[1]} channels")
        # Kornia clamps first; the result is the buffer we work in (the input itself when it is ours)
        out = input.clamp_(0.0, 1.0) if flags.get(PRIVATE_INPUT) else input.clamp(0.0, 1.0)
        orders = params.get("orders")
        if self._fixed_order is not None or orders is None:
            order = self._fixed_order if self._fixed_order is not None else params["order"].tolist()
            return _jitter_(out, params, order)
        # Step position by step position: at each of the four positions, the samples whose order puts
        # step k there get step k (four gathers of about a quarter of the batch, not one per distinct order).
        for position in range(len(_STEPS)):
            chosen = orders[:, position]
            for step in range(len(_STEPS)):
                rows = torch.nonzero(chosen == step).flatten()
                if len(rows) == 0:
                    continue
                factor = params[_KEYS[step]]
                if len(rows) == len(out):
                    if bool((factor != _NEUTRAL[step]).any()):
                        _STEPS[step](out, factor)
                    continue
                factor = factor[rows.to(factor.device)]
                if not bool((factor != _NEUTRAL[step]).any()):  # Kornia skips a step that is neutral for all
                    continue
                index = rows.to(out.device)
                out.index_copy_(0, index, _STEPS[step](out.index_select(0, index), factor))
        return out


def _jitter_(x: torch.Tensor, params: dict[str, torch.Tensor], order: list[int]) -> torch.Tensor:
    """The four steps on ``x`` in place, in ``order``, with one factor per row of ``x``."""
    for step in order:
        factor = params[_KEYS[step]]
        if bool((factor != _NEUTRAL[step]).any()):  # Kornia skips a step that is neutral for all
            _STEPS[step](x, factor)
    return x


# Declares unit range: every step clamps to [0, 1], so data scaled otherwise would be clipped silently.
@register_op("color_jitter", channels="rgb", needs_unit_range=True)
def color_jitter(
    image_size: int,
    in_chans: int,
    p: float = 0.8,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.2,
    hue: float = 0.1,
) -> FastColorJitter:
    """Brightness, contrast, saturation and hue jitter (RGB only: hue is undefined for other bands)."""
    return FastColorJitter(brightness, contrast, saturation, hue, p=p)
