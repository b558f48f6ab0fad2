"""k-NN on frozen features: every labelled sample of the cell is a neighbour (nothing to select)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...config import bounded
from ...features.channel_stats import standardize
from ...features.knn import knn_votes
from ..inits import CHANNEL_STATS
from .base import CLASSIFICATION, ClassificationCell, Outcome, register



@dataclass
class KnnSettings:
    ks: list[int] = bounded(default_factory=lambda: [20], min_len=1, ge=1)  # several k give several rows (knn@10, knn@20)
    temperature: float = bounded(0.07, gt=0)


@register(CLASSIFICATION, "knn", KnnSettings)
def evaluate_knn(cell: ClassificationCell, settings: KnnSettings) -> dict[str, Outcome]:
    # k and T are fixed, so all labelled samples (train and validation) are neighbours
    idx = torch.as_tensor(cell.subset_idx)
    bank, queries = cell.features[idx], cell.test_features
    if cell.init.source == CHANNEL_STATS:  # statistics differ in scale by orders of magnitude: z-scores, from
        bank, queries = standardize(bank, queries)  # the labelled rows only (the probe's scaler does the same)
    votes = knn_votes(bank, torch.as_tensor(cell.labels)[idx], queries,
                      ks=tuple(settings.ks), temperature=settings.temperature, num_classes=cell.num_classes)
    return {
        f"knn@{k}": Outcome(cell.task.score(v.argmax(1).numpy(), v.numpy()),
                            {"k": k, "temperature": settings.temperature})
        for k, v in votes.items()
    }
