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
from kornia.augmentation import GeometricAugmentationBase2D
from torch import nn

from ._selected import SelectedSamples, chunk_rows
from .flips import FastHorizontalFlip, FastVerticalFlip
from .resized_crop import FastResizedCrop, resample, sampling_grid
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
        n, channels = input.shape[:2]
        size = self.crop.flags["size"]
        parts = [self._sub(params, i) for i in range(len(self.steps) + 1)]
        step = chunk_rows(n, channels * size[0] * size[1], input.device)
        out: Optional[torch.Tensor] = None
        for start in range(0, n, step):  # grid, permutations and resampling per cache-sized chunk
            rows = slice(start, min(start + step, n))
            grid = sampling_grid(input[rows], parts[0]["src"][rows], size)
            as_image = grid.permute(0, 3, 1, 2)  # N×2×S×S: the steps permute it like an image
            for op, sub in zip(self.steps, parts[1:]):
                per_sample = ("batch_prob", *op.per_sample_params)
                chunk = {k: (v[rows] if k in per_sample else v) for k, v in sub.items()}
                as_image = op.transform_inputs(as_image, chunk, op.flags)
            done = resample(input[rows], as_image.permute(0, 2, 3, 1))
            if start == 0 and done.shape[0] == n:
                return done
            if out is None:
                out = done.new_empty((n, *done.shape[1:]))
            out[rows] = done
        assert out is not None
        return out


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
