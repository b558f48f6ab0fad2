"""Weighted k-NN classification on frozen features (Wu et al. 2018; as in DINO and solo-learn).

Cosine similarity; each of the k nearest training samples votes for its class with weight exp(sim/T).
Several k are evaluated from one top-k search. Test samples are processed in chunks of a fixed size
(never ``n_test // 100``, which is 0 for tiny test sets, DINO's bug) and k is capped at the training
set size.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_votes(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    ks: Sequence[int] = (10, 20, 200),
    temperature: float = 0.07,
    num_classes: int | None = None,
    chunk_size: int = 512,
) -> dict[int, torch.Tensor]:
    """Per k: the weighted votes per test sample and class (N_test × C), normalised to sum to 1.

    The normalised votes serve as class scores for AUROC; their argmax is the k-NN prediction.
    """
    if len(train_features) == 0:
        raise ValueError("k-NN needs at least one training sample")
    if any(k < 1 for k in ks):
        raise ValueError(f"k must be positive, got {list(ks)}")
    num_classes = num_classes or int(train_labels.max()) + 1
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float(), dim=1)
    labels = train_labels.long()
    k_max = min(max(ks), len(train))
    votes_per_k: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for start in range(0, len(test), max(1, chunk_size)):
        similarity = test[start : start + chunk_size] @ train.T
        top_sim, top_idx = similarity.topk(k_max, dim=1)
        top_labels = labels[top_idx]
        # exp((s - s_max)/T) rather than exp(s/T): the same vote ratios, but neither overflow nor an
        # all-zero row for small T (the nearest neighbour always weighs 1)
        weights = ((top_sim - top_sim[:, :1]) / temperature).exp()
        for k in ks:
            kk = min(k, k_max)
            votes = torch.zeros(len(top_sim), num_classes, dtype=weights.dtype)
            votes.scatter_add_(1, top_labels[:, :kk], weights[:, :kk])
            votes_per_k[k].append(votes / votes.sum(dim=1, keepdim=True).clamp_min(1e-30))
    return {
        k: torch.cat(v) if v else torch.empty(0, num_classes) for k, v in votes_per_k.items()
    }


@torch.no_grad()
def knn_predict(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    ks: Sequence[int] = (10, 20, 200),
    temperature: float = 0.07,
    num_classes: int | None = None,
    chunk_size: int = 512,
) -> dict[int, torch.Tensor]:
    """Predicted class per test sample for each k in ``ks``."""
    votes = knn_votes(train_features, train_labels, test_features, ks, temperature, num_classes, chunk_size)
    return {k: v.argmax(dim=1) for k, v in votes.items()}


def knn_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    ks: Sequence[int] = (10, 20, 200),
    temperature: float = 0.07,
) -> dict[int, float]:
    """Top-1 accuracy (0–1) per k."""
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    preds = knn_predict(train_features, train_labels, test_features, ks, temperature, num_classes)
    return {k: float((p == test_labels).float().mean()) for k, p in preds.items()}
