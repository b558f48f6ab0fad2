"""Random resized crop followed by flips and quarter turns, resampled once.

A flip or a quarter turn of the crop's output is a permutation of its output pixels, and every output pixel
of the crop is one bilinear sample at a grid position. So ``rotate90(vflip(hflip(crop(x))))`` equals one
``grid_sample`` of ``x`` at the crop's sampling grid with those permutations applied to the *grid*: two
values per pixel instead of C (13 for Sentinel-2), and no image-sized copies between the ops.
:func:`fuse_geometry` replaces such runs in a view; the recipe keeps listing the ops separately, each draws
its parameters exactly as on its own (same generators, same gates), and tests check that the fused output
equals the sequential one.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as F
from kornia.augmentation import GeometricAugmentationBase2D
from torch import nn

from ._selected import SelectedSamples, chunk_rows
from .flips import FastHorizontalFlip, FastVerticalFlip
from .resized_crop import FastResizedCrop, grid_axis
from .rotate90 import RandomRotate90

FUSABLE_AFTER_CROP = (FastHorizontalFlip, FastVerticalFlip, RandomRotate90)


class FusedCropFlipRotate(GeometricAugmentationBase2D):
    """A :class:`FastResizedCrop` and the flips/quarter turns that follow it, as one resampling."""

    # apply_transform needs no matrix: build it only when someone reads ``transform_matrix`` (masks, boxes)
    _compute_matrix_lazily = True

    def __init__(self, crop: FastResizedCrop, steps: Sequence[nn.Module]) -> None:
        super().__init__(p=1.0)
        self.crop = crop
        self.steps = nn.ModuleList(steps)

    def _parts(self) -> list[nn.Module]:
        return [self.crop, *self.steps]

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        size = self.crop.flags["size"]
        out_shape = (batch_shape[0], batch_shape[1], *size)
        params: dict[str, torch.Tensor] = {}
        for i, part in enumerate(self._parts()):
            drawn = part.forward_parameters(batch_shape if i == 0 else out_shape)
            params.update({f"{i}.{k}": v for k, v in drawn.items()})
        return params

    def _sub(self, params: dict[str, Any], i: int) -> dict[str, Any]:
        prefix = f"{i}."
        return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}

    def compute_transformation(
        self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any]
    ) -> torch.Tensor:
        n, c = input.shape[:2]
        matrix = self.crop.compute_transformation(input, self._sub(params, 0), self.crop.flags)
        output_like = input.new_empty(1).expand(n, c, *self.crop.flags["size"])
        for i, step in enumerate(self.steps, start=1):
            sub = self._sub(params, i)
            matrix = step.generate_transformation_matrix(output_like, sub, step.flags) @ matrix
        return matrix

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        n, channels, height, width = input.shape
        size = self.crop.flags["size"]
        parts = [self._sub(params, i) for i in range(len(self.steps) + 1)]
        # The crop samples output pixel (i, j) at (x = gx[j], y = gy[i]); a flip reverses one of the two
        # coordinate vectors and a quarter turn transposes the grid (then (x = gx[i], y = gy[j])) and
        # reverses one vector. So the whole chain is two vectors and a transpose flag per sample.
        corners = parts[0]["src"].detach().cpu().long().to(torch.float32)  # small: per-sample bookkeeping on CPU
        x0, y0 = corners[:, 0, 0], corners[:, 0, 1]
        gx = grid_axis(x0, corners[:, 1, 0] - x0 + 1, width, size[1])
        gy = grid_axis(y0, corners[:, 3, 1] - y0 + 1, height, size[0])
        transposed = torch.zeros(n, dtype=torch.bool)
        for op, sub in zip(self.steps, parts[1:]):
            chosen = (sub["batch_prob"] > 0.5).cpu()
            if isinstance(op, RandomRotate90):
                turns = torch.where(chosen, sub["quarter_turns"].cpu(), 0)
                for turn in range(3):
                    now = turns > turn  # one more counter-clockwise quarter turn for these samples
                    _reverse(gx, now & ~transposed)  # (gx[j], gy[i]) → (gx[S-1-i], gy[j])
                    _reverse(gy, now & transposed)  # (gx[i], gy[j]) → (gx[j], gy[S-1-i])
                    transposed = transposed ^ now
            else:
                # a horizontal flip reverses x unless the grid is transposed; a vertical one the other way
                reverses_x = ~transposed if isinstance(op, FastHorizontalFlip) else transposed
                _reverse(gx, chosen & reverses_x)
                _reverse(gy, chosen & ~reverses_x)
        gx, gy = gx.to(device=input.device, dtype=input.dtype), gy.to(device=input.device, dtype=input.dtype)
        transposed = transposed.to(input.device)
        step = chunk_rows(n, channels * size[0] * size[1], input.device)
        out: Optional[torch.Tensor] = None
        for start in range(0, n, step):  # grid and resampling per cache-sized chunk
            rows = slice(start, min(start + step, n))
            grid = torch.empty(gx[rows].shape[0], size[0], size[1], 2, device=input.device, dtype=input.dtype)
            grid[..., 0] = gx[rows, None, :]
            grid[..., 1] = gy[rows, :, None]
            turned = torch.nonzero(transposed[rows]).flatten()
            if turned.numel():
                grid[turned] = grid[turned].transpose(1, 2)
            done = F.grid_sample(input[rows], grid, mode="bilinear", padding_mode="border", align_corners=True)
            if start == 0 and done.shape[0] == n:
                return done
            if out is None:
                out = done.new_empty((n, *done.shape[1:]))
            out[rows] = done
        assert out is not None
        return out


def _reverse(coords: torch.Tensor, rows: torch.Tensor) -> None:
    """Reverse the coordinate vectors of the given rows (a flip of the output along that axis), in place."""
    if rows.any():
        coords[rows] = coords[rows].flip(-1)


def fuse_geometry(ops: list[nn.Module]) -> list[nn.Module]:
    """Replace each crop + following flips/quarter turns in ``ops`` by one :class:`FusedCropFlipRotate`,
    and let gated ops after the first resampling write into the view's own tensor (``inplace``)."""
    out: list[nn.Module] = []
    i = 0
    while i < len(ops):
        op = ops[i]
        j = i + 1
        if isinstance(op, FastResizedCrop) and op.p_batch == 1.0:
            while j < len(ops) and isinstance(ops[j], FUSABLE_AFTER_CROP):
                j += 1
        out.append(FusedCropFlipRotate(op, ops[i + 1 : j]) if j > i + 1 else op)
        i = j
    fresh = False  # has an earlier op replaced the (shared) view input by a tensor of this view's own?
    for op in out:
        if fresh and isinstance(op, SelectedSamples):
            op.inplace = True
        fresh = fresh or isinstance(op, (FastResizedCrop, FusedCropFlipRotate))
    return out
