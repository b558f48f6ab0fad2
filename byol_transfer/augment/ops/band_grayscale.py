"""Band-weighted grayscale for any channel count: replace every band by one weighted mean, keep C channels.

The RGB grayscale op uses luma weights, which only mean something for red, green and blue. For a 13-band
Sentinel-2 tile the analogue is "remove spectral information, keep spatial structure": every band becomes the
same weighted mean of all bands (equal weights by default, or per-band weights from the recipe, e.g. to
leave out the atmospheric bands). The channel count stays the same, so the encoder's input shape does not
change.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from kornia.augmentation import IntensityAugmentationBase2D

from . import register_op
from ._selected import SelectedSamples


class RandomBandGrayscale(SelectedSamples, IntensityAugmentationBase2D):
    """With probability ``p`` per sample, set every channel to ``Σ w_c x_c`` (weights normalised to sum 1)."""

    def __init__(self, weights: Optional[Sequence[float]] = None, p: float = 0.2,
                 same_on_batch: bool = False, keepdim: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        if weights is not None:
            w = torch.as_tensor([float(v) for v in weights])
            if w.ndim != 1 or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"weights must be non-negative with a positive sum, got {list(weights)}")
            weights = (w / w.sum()).tolist()
        self.weights = weights

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        channels = input.shape[1]
        if self.weights is None:
            gray = input.mean(1, keepdim=True)
        else:
            if len(self.weights) != channels:
                raise ValueError(f"{len(self.weights)} grayscale weights for {channels}-channel input")
            gray = input[:, 0:1] * self.weights[0]
            for c in range(1, channels):
                gray.add_(input[:, c : c + 1], alpha=self.weights[c])
        return gray.expand(-1, channels, -1, -1).contiguous()


@register_op("band_grayscale")
def band_grayscale(
    image_size: int, in_chans: int, p: float = 0.2, weights: Optional[list[float]] = None
) -> RandomBandGrayscale:
    """Every band becomes one weighted mean of all bands (mean by default); the channel count is kept."""
    if weights is not None and len(weights) != in_chans:
        raise ValueError(f"'weights' has {len(weights)} values for {in_chans}-channel data")
    return RandomBandGrayscale(weights, p=p)
