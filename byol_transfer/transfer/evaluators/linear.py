"""Linear probe on frozen features: C chosen on the cell's validation split, refit on all its labels."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import bounded
from ...features.linear_probe import C_GRID, linear_probe
from .base import CLASSIFICATION, ClassificationCell, Outcome, register



@dataclass
class LinearSettings:
    c_grid: list[float] = bounded(default_factory=lambda: list(C_GRID), min_len=1, gt=0)  # inverse regularisation strengths tried
    max_iter: int = bounded(1000, ge=1)


@register(CLASSIFICATION, "linear", LinearSettings)
def evaluate_linear(cell: ClassificationCell, settings: LinearSettings) -> dict[str, Outcome]:
    features, labels = cell.features.numpy(), cell.labels
    result = linear_probe(
        features[cell.train_idx], labels[cell.train_idx],
        features[cell.val_idx], labels[cell.val_idx],
        cell.test_features.numpy(), cell.num_classes, tuple(settings.c_grid), settings.max_iter,
    )
    return {"linear": Outcome(cell.task.score(result.predictions, result.probabilities),
                              {"C": result.C, "selected_on_validation": float(result.selected_on_validation)})}
