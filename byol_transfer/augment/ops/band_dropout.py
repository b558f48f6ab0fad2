"""Band dropout: replace 1..max_bands randomly chosen bands of a sample by a neutral value.

With many correlated bands (Sentinel-2's 13) an encoder can lean on one band; dropping a few per sample makes
it use the others, and a model pretrained this way tolerates a missing or noisy band later. The default fill
is each dropped band's own image mean, which after normalisation is close to that band's dataset mean, so a
dropped band looks "uninformative" rather than "black" (0 reflectance is far outside the usual range).
"""

from __future__ import annotations

from typing import Any, Optional, Union

import torch
from kornia.augmentation import IntensityAugmentationBase2D

from . import register_op
from ._selected import SelectedSamples


class RandomBandDropout(SelectedSamples, IntensityAugmentationBase2D):
    per_sample_params = ("band_keep",)

    def __init__(self, max_bands: int = 1, fill: Union[str, float] = "mean", p: float = 0.2,
                 same_on_batch: bool = False, keepdim: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        if not isinstance(max_bands, int) or max_bands < 1:
            raise ValueError(f"max_bands must be a positive integer, got {max_bands!r}")
        if fill != "mean" and not isinstance(fill, (int, float)):
            raise ValueError(f"fill must be 'mean' or a number, got {fill!r}")
        self.max_bands, self.fill = max_bands, fill

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        n, channels = batch_shape[0], batch_shape[1]
        if self.max_bands >= channels:
            raise ValueError(f"band_dropout: max_bands={self.max_bands} would drop every one of {channels} bands")
        draws = 1 if self.same_on_batch else n
        count = torch.randint(1, self.max_bands + 1, (draws, 1), device=self.device)
        rank = torch.rand(draws, channels, device=self.device).argsort(1).argsort(1)  # a random permutation
        return {"band_keep": (rank >= count).to(self.dtype).expand(n, -1)}

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        keep = params["band_keep"].to(device=input.device, dtype=input.dtype, non_blocking=True)[:, :, None, None]
        if keep.shape[1] != input.shape[1]:
            raise ValueError(f"band mask drawn for {keep.shape[1]} bands, input has {input.shape[1]}")
        fill = input.mean(dim=(-2, -1), keepdim=True) if self.fill == "mean" else float(self.fill)
        return torch.addcmul(fill * (1 - keep), input, keep)


@register_op("band_dropout")
def band_dropout(
    image_size: int, in_chans: int, p: float = 0.2, max_bands: int = 1, fill: Union[str, float] = "mean"
) -> RandomBandDropout:
    """Replace 1..max_bands random bands per sample by their image mean (or a constant ``fill``)."""
    if not isinstance(max_bands, int) or not 1 <= max_bands < in_chans:
        raise ValueError(f"max_bands must be an integer in [1, {in_chans - 1}] for {in_chans}-band data, "
                         f"got {max_bands!r}")
    return RandomBandDropout(max_bands, fill, p=p)
