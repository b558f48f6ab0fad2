"""Horizontal and vertical flips that copy only the flipped samples.

Kornia flips the whole batch and blends it back with ``torch.where`` (two full passes plus a slow select);
these subclasses flip just the rows the gate picked. The transformation matrices, and with them masks and
boxes in an ``AugmentationSequential``, are Kornia's own.
"""

from __future__ import annotations

from typing import Any, Optional

import kornia.augmentation as K
import torch

from . import register_op
from ._selected import SelectedSamples


class FastHorizontalFlip(SelectedSamples, K.RandomHorizontalFlip):
    def apply_transform(self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any],
                        transform: Optional[torch.Tensor] = None) -> torch.Tensor:
        return input.flip(-1)


class FastVerticalFlip(SelectedSamples, K.RandomVerticalFlip):
    def apply_transform(self, input: torch.Tensor, params: dict[str, torch.Tensor], flags: dict[str, Any],
                        transform: Optional[torch.Tensor] = None) -> torch.Tensor:
        return input.flip(-2)


@register_op("horizontal_flip", geometric=True)
def horizontal_flip(image_size: int, in_chans: int, p: float = 0.5) -> FastHorizontalFlip:
    """Mirror left-right."""
    return FastHorizontalFlip(p=p)


@register_op("vertical_flip", geometric=True)
def vertical_flip(image_size: int, in_chans: int, p: float = 0.5) -> FastVerticalFlip:
    """Mirror top-bottom (fine from orbit and under a microscope, wrong for chest X-rays)."""
    return FastVerticalFlip(p=p)
