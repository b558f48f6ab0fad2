"""Weak and strong views of unlabelled images, built from the recipe's own Kornia ops.

- weak: the recipe's geometric ops only (crop with a mild scale, its flips / quarter turns / rotations):
  a view whose label is certainly the image's, for pseudo-labels (FixMatch's "flip-and-shift");
- strong: the recipe's BYOL view (``view1`` by default: colour jitter, grayscale, blur, …). Its crop
  keeps at least ``strong_crop_scale[0]`` of the area: BYOL's 8 % crops are fine for matching embeddings,
  but a pseudo-label made from the whole tile need not hold for 8 % of it;
- aligned (segmentation): the strong view's geometric ops warp the image *and* the teacher's per-pixel
  probabilities in one call (stacked as extra channels), so every pixel of the student's input lines up
  with its target by construction; then the photometric ops change the image only.

Views take raw batches on the training device and return normalised inputs for the model, exactly as
evaluation would normalise them (the init's own normalisation).
"""

from __future__ import annotations

from typing import Sequence

import kornia.augmentation as K
import torch
from torch import nn

from ..augment.ops import OPS, build_op
from ..augment.ops._fused_geometry import fuse_geometry
from ..augment.ops.ct_window import training_scaling
from ..augment.recipes import build_view, check_channels
from ..augment.scaling import ValueScaling
from ..augment.views import EvalTransform
from ..config import RecipeConfig
from ..errors import UserError

CROP = "random_resized_crop"


def split_geometric(specs: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """A view's op entries → (geometric ops, the others), each list in the recipe's order."""
    geometric, photometric = [], []
    for spec in specs:
        name = spec.get("op")
        (geometric if name in OPS and OPS.get(name).geometric else photometric).append(dict(spec))
    return geometric, photometric


def with_crop_scale(specs: Sequence[dict], scale: tuple[float, float] | None) -> list[dict]:
    """The entries with the crop's area range replaced by ``scale`` (None: as the recipe says)."""
    if scale is None:
        return [dict(s) for s in specs]
    return [{**s, "scale": [float(scale[0]), float(scale[1])]} if s.get("op") == CROP else dict(s) for s in specs]


def narrow_crop_scale(specs: Sequence[dict], scale: tuple[float, float] | None) -> list[dict]:
    """The entries with the crop's area range intersected with ``scale``: the strong view keeps a recipe's
    milder crop (grayscale's 30 %) and only loses the part below ``scale[0]`` (BYOL's 8 %)."""
    if scale is None:
        return [dict(s) for s in specs]
    out = []
    for spec in specs:
        if spec.get("op") == CROP:
            low, high = spec.get("scale", (0.08, 1.0))
            low, high = max(float(low), scale[0]), min(float(high), scale[1])
            spec = {**spec, "scale": [low, high] if low <= high else [float(scale[0]), float(scale[1])]}
        out.append(dict(spec))
    return out


def recipe_view(recipe: RecipeConfig, view: str) -> list[dict]:
    if view not in ("view1", "view2"):
        raise UserError(f"strong view must be view1 or view2, got {view!r}")
    return list(getattr(recipe, view))


def geometric_ops(recipe: RecipeConfig, specs: Sequence[dict], image_size: int,
                  channels: int) -> K.AugmentationSequential:
    """Geometric ops for ``channels`` stacked channels (image bands + probability maps): they move pixels
    and never look at what a channel means, so the recipe's channel contract does not apply."""
    where = recipe.source or f"recipe {recipe.name!r}"
    ops = [build_op(spec, image_size=image_size, in_chans=channels, rgb=False, unit_range=False, where=where)
           for spec in specs]
    return K.AugmentationSequential(*fuse_geometry(ops), data_keys=["input"], transformation_matrix_mode="skip")


class WeakStrongViews(nn.Module):
    """Raw unlabelled batch → (weak, strong) normalised views, each sample with its own parameters."""

    def __init__(self, recipe: RecipeConfig, transform: EvalTransform, image_size: int, in_chans: int,
                 input_dtype: torch.dtype, weak_crop_scale: tuple[float, float] = (0.5, 1.0),
                 strong_crop_scale: tuple[float, float] | None = (0.25, 1.0), strong_view: str = "view1") -> None:
        super().__init__()
        check_channels(recipe, in_chans)
        geometric, _ = split_geometric(recipe_view(recipe, strong_view))
        self.eval_scaling = transform.scaling
        self.normalize = transform.normalize
        self.weak = geometric_ops(recipe, with_crop_scale(geometric, weak_crop_scale), image_size, in_chans)
        # the strong view may window CT values itself, so it starts from the recipe's training scaling
        self.train_scaling = ValueScaling(training_scaling(recipe), in_chans)
        self.strong = build_view(recipe, narrow_crop_scale(recipe_view(recipe, strong_view), strong_crop_scale),
                                 image_size, in_chans, input_dtype)

    @torch.no_grad()
    def forward(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weak = self.normalize(self.weak(self.eval_scaling(raw)))
        strong = self.normalize(self.strong(self.train_scaling(raw)))
        return weak, strong


class AlignedStrongView(nn.Module):
    """For segmentation: the teacher's input, and the student's strong view with the teacher's
    probabilities warped by the same geometric parameters (pixel-aligned by construction)."""

    def __init__(self, recipe: RecipeConfig, transform: EvalTransform, image_size: int, in_chans: int,
                 num_classes: int, input_dtype: torch.dtype,
                 crop_scale: tuple[float, float] | None = (0.25, 1.0), strong_view: str = "view1") -> None:
        super().__init__()
        check_channels(recipe, in_chans)
        geometric, photometric = split_geometric(recipe_view(recipe, strong_view))
        self.in_chans = in_chans
        self.eval_scaling = transform.scaling
        self.normalize = transform.normalize
        self.train_scaling = ValueScaling(training_scaling(recipe), in_chans)
        self.geometric = geometric_ops(recipe, narrow_crop_scale(geometric, crop_scale), image_size,
                                       in_chans + num_classes)
        self.photometric = (build_view(recipe, photometric, image_size, in_chans, input_dtype)
                            if photometric else nn.Identity())

    @torch.no_grad()
    def teacher_input(self, raw: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.eval_scaling(raw))

    @torch.no_grad()
    def forward(self, raw: torch.Tensor, teacher_probabilities: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(student input, teacher probabilities aligned with it)."""
        stacked = torch.cat([self.train_scaling(raw), teacher_probabilities.float()], dim=1)
        warped = self.geometric(stacked)
        image, probabilities = warped[:, : self.in_chans], warped[:, self.in_chans:]
        return self.normalize(self.photometric(image.contiguous())), probabilities
