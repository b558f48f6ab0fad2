"""Confidence intervals for a sweep cell, and for the difference between two inits (pure numpy).

Method (for docs/label-efficiency.md). A cell is scored S times (one per label seed), each time on the
same N test images. The interval asks: how far would the cell's number move on another test set of the
same size? We draw ``n_boot`` resamples of the N test images with replacement; within a draw every seed
sees the *same* resampled images, because the test set is shared. The metric is recomputed per seed on
the resample and averaged over seeds; the 2.5th and 97.5th percentiles of those B averages are the 95 %
interval (percentile bootstrap). A paired difference between two inits (same seeds, so the same label
subsets, and the same test images) is bootstrapped with the same shared draws for both inits: an image
that is hard for both moves both, so only the disagreement between the inits widens the interval.
A difference whose interval contains 0 is "within noise". The interval covers test-set sampling only,
not the choice of label subsets: the ± over seeds in the report shows that part.

Metrics are built from per-image data, so a draw is an index matrix, not a re-run: :func:`accuracy`
(predicted labels), :func:`auroc` (scores; a draw whose labels hold one class is skipped and counted),
:func:`miou` (per-image confusion counts, summed over the draw). Accuracy and mIoU are one matrix
product for all draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

# idx (B × N) → metric per draw and seed (B × S); NaN where the metric is undefined on that draw
Scorer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """A metric bound to one cell's per-seed predictions on ``n`` shared test images."""

    n: int  # test images
    seeds: int  # label seeds (S)
    score: Scorer

    def estimate(self) -> float:
        """Mean over seeds of the metric on the full test set (the report's number)."""
        return float(self.score(np.arange(self.n)[None])[0].mean())


@dataclass(frozen=True)
class Interval:
    estimate: float  # mean over seeds on the full test set
    low: float
    high: float
    level: float
    n_boot: int  # draws used
    skipped: int  # draws left out because the metric was undefined on them (AUROC: one class)


@dataclass(frozen=True)
class Difference:
    difference: float  # mean over seeds of a, minus that of b, on the full test set
    low: float
    high: float
    level: float
    n_boot: int
    skipped: int
    # the interval contains 0, or could not be computed (no defined draw): no difference is claimed
    within_noise: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "within_noise", not (self.low > 0.0 or self.high < 0.0))


def _per_seed(arrays: Sequence[np.ndarray] | np.ndarray, what: str) -> list[np.ndarray]:
    arrays = [np.asarray(a) for a in arrays]
    if not arrays:
        raise ValueError(f"{what}: give the predictions of at least one seed")
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"{what}: every seed must be scored on the same test images (lengths "
                         f"{sorted({len(a) for a in arrays})})")
    return arrays


def _draw_counts(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each image occurs in each draw: B × N (float64, ready for a matrix product)."""
    rows = idx.shape[0]
    flat = (idx + n * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def accuracy(labels: np.ndarray, predicted: Sequence[np.ndarray]) -> Metric:
    """Accuracy of each seed's predicted labels (``predicted[s]``: N) against the shared ``labels``."""
    labels = np.asarray(labels)
    predicted = _per_seed(predicted, "accuracy")
    if len(predicted[0]) != len(labels):
        raise ValueError(f"accuracy: {len(predicted[0])} predictions for {len(labels)} labels")
    correct = np.stack([p == labels for p in predicted], axis=1).astype(np.float64)  # N × S
    n = len(labels)

    def score(idx: np.ndarray) -> np.ndarray:
        return _draw_counts(idx, n) @ correct / idx.shape[1]

    return Metric(n, correct.shape[1], score)


def miou(counts: Sequence[np.ndarray]) -> Metric:
    """Mean IoU over classes from per-image confusion counts, ``counts[s]``: N × K × 4 (tp, fp, fn, tn).

    As the segmentation sweep computes it: counts summed over the (resampled) images, IoU per class
    tp / (tp + fp + fn), a class with no pixel in masks or predictions left out of the mean.
    """
    counts = _per_seed(counts, "miou")
    if any(c.ndim != 3 or c.shape[2] != 4 for c in counts):
        raise ValueError("miou: each seed's counts must be N × K × 4 (tp, fp, fn, tn)")
    stacked = np.stack([c.astype(np.float64) for c in counts])  # S × N × K × 4
    seeds, n, k, _ = stacked.shape
    flat = stacked.transpose(1, 0, 2, 3).reshape(n, seeds * k * 4)

    def score(idx: np.ndarray) -> np.ndarray:
        sums = (_draw_counts(idx, n) @ flat).reshape(-1, seeds, k, 4)
        tp, fp, fn = sums[..., 0], sums[..., 1], sums[..., 2]
        union = tp + fp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = np.where(union > 0, tp / union, np.nan)
        present = ~np.isnan(iou)
        total = np.where(present, iou, 0.0).sum(-1)
        count = present.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    return Metric(n, seeds, score)


def _binary_problems(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The classes present and the (is-positive, score) pairs AUROC averages over, as the sweep does it:
    binary on the positive column (or a 1-D score); one-vs-rest macro over the classes present, their
    columns renormalised (sklearn requires rows summing to 1)."""
    present = np.unique(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        return present, [(labels == present[-1], scores)]
    if scores.shape[1] == 2:
        return present, [(labels == 1, scores[:, 1])]
    sub = scores[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    if len(present) == 2:
        return present, [(labels == present[1], sub[:, 1])]
    return present, [(labels == c, sub[:, i]) for i, c in enumerate(present)]


def binary_or_ovr_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """scikit-learn's AUROC (see :func:`_binary_problems`); NaN with one class."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    present, problems = _binary_problems(labels, scores)
    if len(present) < 2:
        return math.nan
    return float(np.mean([roc_auc_score(positive, score) for positive, score in problems]))


def _weighted_auc(weights: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AUROC of every draw at once (``weights``: B × N image counts): the Mann-Whitney statistic
    P(score of a positive > score of a negative), ties counted half, each pair weighted by its counts."""
    neg_order = np.flatnonzero(~positive)[np.argsort(score[~positive], kind="stable")]
    neg_scores = score[neg_order]
    pos_cols = np.flatnonzero(positive)
    # cumulative negative weight, with a leading 0: column j = weight of the j lowest-scored negatives
    cum = np.concatenate([np.zeros((len(weights), 1)), np.cumsum(weights[:, neg_order], axis=1)], axis=1)
    below = cum[:, np.searchsorted(neg_scores, score[pos_cols], side="left")]
    up_to = cum[:, np.searchsorted(neg_scores, score[pos_cols], side="right")]
    w_pos = weights[:, pos_cols]
    wins = (w_pos * (below + up_to)).sum(axis=1) * 0.5  # below + ties/2 = (below + up_to) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return wins / (w_pos.sum(axis=1) * cum[:, -1])


def auroc(labels: np.ndarray, scores: Sequence[np.ndarray],
          metric: Callable[[np.ndarray, np.ndarray], float] | None = None) -> Metric:
    """AUROC of each seed's scores (``scores[s]``: N or N × K) against the shared ``labels``.

    By default vectorised over draws (weighted Mann-Whitney, equal to :func:`binary_or_ovr_auroc`,
    i.e. scikit-learn); a draw missing a class of the full test set is scored by that function itself.
    ``metric(labels, scores) -> float`` (NaN when undefined) instead is called once per draw and seed,
    e.g. the sweep's own AUROC function; sklearn takes ~1-10 ms a call, so 1,000 draws × 3 seeds: seconds.
    """
    labels = np.asarray(labels)
    scores = _per_seed(scores, "auroc")
    if len(scores[0]) != len(labels):
        raise ValueError(f"auroc: {len(scores[0])} score rows for {len(labels)} labels")
    n = len(labels)
    present = np.unique(labels)
    one_by_one = metric or binary_or_ovr_auroc

    def looped(idx: np.ndarray) -> np.ndarray:
        out = np.full((idx.shape[0], len(scores)), np.nan)
        for b, rows in enumerate(idx):
            y = labels[rows]
            if len(np.unique(y)) >= 2:  # shared labels: undefined for every seed alike
                out[b] = [one_by_one(y, s[rows]) for s in scores]
        return out

    def vectorised(idx: np.ndarray) -> np.ndarray:
        out = np.full((idx.shape[0], len(scores)), np.nan)
        for start in range(0, idx.shape[0], 128):  # bounded memory: a few 128 × N arrays
            chunk = idx[start:start + 128]
            weights = _draw_counts(chunk, n)
            complete = (weights @ (labels[:, None] == present[None]) > 0).all(axis=1)
            for s, seed_scores in enumerate(scores):
                _, problems = _binary_problems(labels, seed_scores)
                aucs = np.mean([_weighted_auc(weights[complete], p, sc) for p, sc in problems], axis=0)
                out[start:start + 128][complete, s] = aucs
            out[start:start + 128][~complete] = looped(chunk[~complete])
        return out

    return Metric(n, len(scores), looped if metric is not None or len(present) < 2 else vectorised)


def _draws(n: int, n_boot: int, seed: int) -> np.ndarray:
    if n < 1:
        raise ValueError("no test images")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _bounds(values: np.ndarray, level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if not len(values):
        return math.nan, math.nan
    low, high = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)


def bootstrap_interval(metric: Metric, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile interval of the seed-averaged metric over test-image resamples shared by all seeds."""
    per_draw = metric.score(_draws(metric.n, n_boot, seed))  # B × S
    defined = ~np.isnan(per_draw).any(axis=1)
    low, high = _bounds(per_draw[defined].mean(axis=1), level)
    return Interval(metric.estimate(), low, high, level, int(defined.sum()), int((~defined).sum()))


def paired_difference(a: Metric, b: Metric, n_boot: int = 1000, seed: int = 0,
                      level: float = 0.95) -> Difference:
    """``a`` minus ``b`` (seed-averaged), both scored on the same draws of the same test images.

    ``a`` and ``b`` must come from the same label seeds (so the same subsets) and the same test set.
    """
    if a.n != b.n:
        raise ValueError(f"paired_difference: {a.n} vs {b.n} test images; pair inits on the same test set")
    if a.seeds != b.seeds:
        raise ValueError(f"paired_difference: {a.seeds} vs {b.seeds} seeds; pair inits on the same label seeds")
    idx = _draws(a.n, n_boot, seed)
    per_a, per_b = a.score(idx), b.score(idx)
    defined = ~(np.isnan(per_a).any(axis=1) | np.isnan(per_b).any(axis=1))
    low, high = _bounds(per_a[defined].mean(axis=1) - per_b[defined].mean(axis=1), level)
    return Difference(a.estimate() - b.estimate(), low, high, level, int(defined.sum()), int((~defined).sum()))
