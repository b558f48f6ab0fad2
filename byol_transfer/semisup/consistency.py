"""What a semi-supervised method adds to a supervised training loop."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from ..errors import UserError


class Consistency(Protocol):
    def loss(self, model: nn.Module, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        """The unlabelled loss for this optimiser step (already weighted) and numbers worth logging."""
        ...

    def after_step(self, model: nn.Module) -> None:
        """Called after each optimiser step (e.g. the teacher's EMA update)."""
        ...

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The network to validate and keep: the model itself, or a teacher that follows it."""
        ...


def check_unlabelled_term(threshold: float, mu: int, weight: float, item: str) -> None:
    """The settings every method here shares: confidence threshold, unlabelled ratio, loss weight."""
    if not 0.0 <= threshold <= 1.0:
        raise UserError(f"semi-supervised threshold must lie in [0, 1], got {threshold}")
    if mu < 1:
        raise UserError(f"semi-supervised mu (unlabelled per labelled {item}) must be at least 1, got {mu}")
    if weight < 0:
        raise UserError(f"semi-supervised weight must not be negative, got {weight}")
