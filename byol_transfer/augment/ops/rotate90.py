"""Rotation by a uniformly drawn multiple of 90°, exact (no resampling), per sample.

Kornia's ``RandomRotation90`` rounds a uniform draw from [0, 3] (so 0° and 270° come half as often as 90° and
180°) and warps every image through a bilinear affine resampler. For tiles seen from orbit or under a
microscope, where no orientation is canonical, all four orientations should be equally likely, and a
quarter turn is just an index permutation: ``torch.rot90`` on the samples sharing a turn count.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from kornia.augmentation import GeometricAugmentationBase2D

from . import register_op
from ._selected import SelectedSamples


class RandomRotate90(SelectedSamples, GeometricAugmentationBase2D):
    """Rotate each (square) image counter-clockwise by k·90°, k uniform in {0, 1, 2, 3}, drawn per sample."""

    per_sample_params = ("quarter_turns",)

    def __init__(self, p: float = 1.0, same_on_batch: bool = False, keepdim: bool = False) -> None:
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        n = batch_shape[0]
        turns = torch.randint(0, 4, (1 if self.same_on_batch else n,), device=self.device)
        return {"quarter_turns": turns.expand(n).clone()}

    def compute_transformation(
        self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any]
    ) -> torch.Tensor:
        # Pixel (x, y) of the input lands on (y, W − 1 − x) after one turn of torch.rot90(dims=(-2, -1)).
        side = input.shape[-1] - 1
        quarter = input.new_tensor([[0.0, 1.0, 0.0], [-1.0, 0.0, float(side)], [0.0, 0.0, 1.0]])
        powers = [torch.linalg.matrix_power(quarter, k) for k in range(4)]
        turns = params["quarter_turns"].to(input.device).long()
        return torch.stack(powers)[turns]

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        if input.shape[-1] != input.shape[-2]:
            raise ValueError(f"rotate90 needs square images, got {tuple(input.shape[-2:])}")
        turns = params["quarter_turns"].cpu()
        out = torch.empty_like(input)
        for k in range(4):
            rows = torch.nonzero(turns == k).flatten()
            if rows.numel() == input.shape[0]:
                return torch.rot90(input, k, dims=(-2, -1)).contiguous()
            if rows.numel():
                rows = rows.to(input.device, non_blocking=True)
                out.index_copy_(0, rows, torch.rot90(input[rows], k, dims=(-2, -1)))
        return out


@register_op("rotate90", geometric=True)
def rotate90(image_size: int, in_chans: int, p: float = 1.0) -> RandomRotate90:
    """Rotate by 0, 90, 180 or 270 degrees, equally likely, chosen per sample (exact, no interpolation)."""
    return RandomRotate90(p=p)
