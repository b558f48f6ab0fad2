"""Random resized crop: Kornia's ``RandomResizedCrop`` boxes, resampled in one batched ``grid_sample``.

Kornia (``cropping_mode="slice"``) slices each sample's integer box and resizes it with its own
``F.interpolate`` call, a Python loop over the batch. Bilinear resizing with ``align_corners=True`` samples
the crop at ``x0 + j·(w − 1)/(size − 1)``: one sampling grid per sample, built from two 1-D coordinate
vectors, gives the same values for the whole batch in one call (checked against Kornia in tests).
"""

from __future__ import annotations

from typing import Any, Optional

import kornia.augmentation as K
import torch
import torch.nn.functional as F

from . import register_op
from ._selected import chunk_rows
from .stock import _pair


def grid_axis(start: torch.Tensor, length: torch.Tensor, full: int, size: int) -> torch.Tensor:
    """Normalised (align_corners=True) sampling coordinates, N×size, along one axis."""
    steps = torch.arange(size, device=start.device, dtype=start.dtype)
    scale = (length - 1) / (size - 1) if size > 1 else torch.zeros_like(length)
    pixels = start.view(-1, 1) + steps * scale.view(-1, 1)
    return pixels * (2.0 / max(full - 1, 1)) - 1.0


def sampling_grid(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """N×h×w×2 ``grid_sample`` grid (align_corners=True) that crops N×C×H×W ``x`` to Kornia-style corner
    ``boxes`` (N×4×2, inclusive integer pixels) and resizes the crop bilinearly to ``size``."""
    _, _, height, width = x.shape
    corners = boxes.to(device=x.device).long().to(x.dtype)
    x0, y0 = corners[:, 0, 0], corners[:, 0, 1]
    w = corners[:, 1, 0] - x0 + 1
    h = corners[:, 3, 1] - y0 + 1
    gx = grid_axis(x0, w, width, size[1])
    gy = grid_axis(y0, h, height, size[0])
    return torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)


def resized_crop(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop N×C×H×W ``x`` to ``boxes`` and resize to ``size`` (see :func:`sampling_grid`)."""
    return resample(x, sampling_grid(x, boxes, size))


def resample(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear ``grid_sample`` (align_corners=True, border), in cache-sized chunks of rows on CPU."""
    n, channels = x.shape[:2]
    step = chunk_rows(n, channels * grid.shape[1] * grid.shape[2], x.device)
    if step >= n:
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
    out = x.new_empty((n, channels, *grid.shape[1:3]))
    for start in range(0, n, step):
        end = min(start + step, n)
        out[start:end] = F.grid_sample(x[start:end], grid[start:end], mode="bilinear", padding_mode="border",
                                       align_corners=True)
    return out


class FastResizedCrop(K.RandomResizedCrop):
    """``kornia.augmentation.RandomResizedCrop`` (bilinear, slice mode) without the per-sample Python loop."""

    def __init__(self, size: tuple[int, int], scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), p: float = 1.0) -> None:
        super().__init__(size=size, scale=scale, ratio=ratio, p=p, align_corners=True, cropping_mode="slice")

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        return resized_crop(input, params["src"], flags["size"])


@register_op("random_resized_crop", geometric=True)
def random_resized_crop(
    image_size: int,
    in_chans: int,
    p: float = 1.0,
    scale: list[float] = (0.08, 1.0),
    ratio: list[float] = (3 / 4, 4 / 3),
) -> FastResizedCrop:
    """Crop a random area (fraction ``scale``, aspect ``ratio``) and resize it to the training size."""
    low, high = _pair(scale)
    if not 0 < low <= high <= 1:
        raise ValueError(f"scale must be a range within (0, 1], got {list(_pair(scale))}")
    return FastResizedCrop(size=(image_size, image_size), scale=(low, high), ratio=_pair(ratio), p=p)
