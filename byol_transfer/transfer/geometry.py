"""The geometric fine-tuning augmentation both tasks use (albumentations), for any channel count.

Images arrive as floats after the recipe's value scaling (so 13-band reflectance or HU values are fine:
only geometric ops are used, which do not care what a channel means) in H×W×C layout. The geometric
invariances are those the pretraining recipe declared: a recipe with flips or 90° rotations (aerial
imagery) gets them here too; one without (digits, chest X-rays, where a mirrored image means
something else) does not. A mild random resized crop is always applied, as in SimCLR/BYOL fine-tuning.
Each task applies the pipeline to what it trains on: an image (classification) or an image with its
mask (segmentation, nearest-neighbour for the mask).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network call at import (no runtime downloads)

import albumentations as A  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..config import RecipeConfig  # noqa: E402


@dataclass(frozen=True)
class Geometry:
    """Which label-preserving geometric changes the data allow."""

    hflip: bool = False
    vflip: bool = False
    rot90: bool = False
    rotation_degrees: float = 0.0

    @classmethod
    def from_recipe(cls, recipe: RecipeConfig | None) -> "Geometry":
        if recipe is None:
            return cls()
        ops = {spec.get("op"): spec for spec in [*recipe.view1, *recipe.view2]}
        return cls(
            hflip="horizontal_flip" in ops,
            vflip="vertical_flip" in ops,
            rot90="rotate90" in ops,
            rotation_degrees=float(ops["rotation"].get("degrees", 10.0)) if "rotation" in ops else 0.0,
        )


def build_train_augment(image_size: int, geometry: Geometry, seed: int,
                        crop_scale: tuple[float, float] = (0.5, 1.0)) -> A.Compose:
    ops: list = [A.RandomResizedCrop(size=(image_size, image_size), scale=crop_scale)]
    if geometry.hflip:
        ops.append(A.HorizontalFlip(p=0.5))
    if geometry.vflip:
        ops.append(A.VerticalFlip(p=0.5))
    if geometry.rot90:
        ops.append(A.RandomRotate90(p=0.5))
    if geometry.rotation_degrees:
        ops.append(A.Rotate(limit=geometry.rotation_degrees, p=0.5))
    return A.Compose(ops, seed=seed)


def augment_chw(augment: A.Compose, image: torch.Tensor) -> torch.Tensor:
    """C×H×W float tensor → augmented C×H×W float tensor (albumentations works on H×W×C arrays)."""
    array = np.ascontiguousarray(image.numpy().transpose(1, 2, 0))
    out = augment(image=array)["image"]
    return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))


def augment_pair(augment: A.Compose, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """C×H×W float image + H×W mask → the same geometric change applied to both."""
    out = augment(image=np.ascontiguousarray(image.numpy().transpose(1, 2, 0)),
                  mask=mask.numpy().astype(np.int32))
    return (torch.from_numpy(np.ascontiguousarray(out["image"].transpose(2, 0, 1))),
            torch.from_numpy(np.ascontiguousarray(out["mask"])).long())
