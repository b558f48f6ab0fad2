"""The two-view pipeline: scale raw values, augment each view, normalise last."""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn

from .scaling import Normalize, ValueScaling


class EvalTransform(nn.Module):
    """What evaluation and feature extraction see: scaling and normalisation, no augmentation."""

    def __init__(self, scaling: ValueScaling, normalize: Normalize) -> None:
        super().__init__()
        self.scaling = scaling
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.scaling(x))


class TwoViews(nn.Module):
    """Raw batch (B×C×H×W, any dtype, on the training device) → two augmented, normalised views.

    Each view is a Kornia ``AugmentationSequential``; every op draws its parameters per sample.
    """

    def __init__(
        self,
        scaling: ValueScaling,
        view1: K.AugmentationSequential,
        view2: K.AugmentationSequential,
        normalize: Normalize,
    ) -> None:
        super().__init__()
        self.scaling = scaling
        self.view1 = view1
        self.view2 = view2
        self.normalize = normalize

    @property
    def eval_transform(self) -> EvalTransform:
        return EvalTransform(self.scaling, self.normalize)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.scaling(x)
        return self.normalize(self.view1(x)), self.normalize(self.view2(x))
