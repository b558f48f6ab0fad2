"""The statistics rows of results.csv: a 95 % interval per cell and each pretrained init's paired
difference from the best baseline, from the cells' per-image test predictions (``predictions.py``).

The method is ``intervals.py``'s (bootstrap over test images within each label seed, seeds averaged
per draw, paired draws for a difference; docs/label-efficiency.md, "Statistics"). What this module adds
is the bookkeeping: which metrics (the task's ``interval_metrics``: metric name → builder from the
per-seed predictions), which cells, which baseline. A cell is (init, evaluator, fraction) over its seeds;
the best baseline of (evaluator, fraction) is the baseline init with the highest mean of that metric
(ties: the first in run order). Every cell uses the same draws (one seed, ``BOOT_SEED``), so an interval
and the differences that involve its cell rest on the same resamples; each cell's per-draw scores are
computed once and reused (a looped AUROC costs seconds per cell).
"""

from __future__ import annotations

import hashlib
from typing import Callable, Mapping, Sequence

import numpy as np

from .intervals import Metric, bootstrap_interval, paired_difference
from .predictions import Predictions
from .report import (ALL_SEEDS, BASELINE, CI_HIGH, CI_LOW, DIFF, DIFF_HIGH, DIFF_LOW, PRETRAINED, ResultRow,
                     best_baseline, summarize)

N_BOOT = 1000
BOOT_SEED = 0
LEVEL = 0.95

# (per-seed prediction arrays, in seed order; the test set's arrays) → the cell's Metric, None if it has none
MetricBuilder = Callable[[Sequence[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]], "Metric | None"]


def exact_estimate(fast: Metric, exact: Metric) -> Metric:
    """``fast`` on the bootstrap draws, ``exact`` on the full test set (the estimate).

    For mIoU: ``exact`` is smp's float32 computation the sweep reports, ``fast`` the float64 one. For AUROC: the vectorised Mann-Whitney form is scikit-learn's AUROC to rounding (tested in
    intervals.py's tests) and ~1,000x faster than a scikit-learn call per draw and seed, which is seconds
    per cell even on tiny test sets; the estimate, which the differences are built from, goes through the
    sweep's own metric function, so that it equals the reported mean exactly."""
    if (fast.n, fast.seeds) != (exact.n, exact.seeds):
        raise ValueError("exact_estimate: both metrics must be over the same test images and seeds")
    full = np.arange(fast.n)

    def score(idx: np.ndarray) -> np.ndarray:
        return exact.score(idx) if idx.shape[0] == 1 and np.array_equal(idx[0], full) else fast.score(idx)

    return Metric(fast.n, fast.seeds, score)


def _memoised(metric: Metric) -> Metric:
    """The same metric, each distinct draw matrix scored once (interval and differences share draws)."""
    cache: dict[tuple, np.ndarray] = {}

    def score(idx: np.ndarray) -> np.ndarray:
        key = (idx.shape, hashlib.sha1(np.ascontiguousarray(idx).tobytes()).digest())
        if key not in cache:
            cache[key] = metric.score(idx)
        return cache[key]

    return Metric(metric.n, metric.seeds, score)


def statistics_rows(rows: Sequence[ResultRow], predictions: Predictions,
                    builders: Mapping[str, MetricBuilder]) -> list[ResultRow]:
    """The statistics rows (seed ``all``) for the seed rows ``rows`` of one sweep."""
    cells: dict[tuple[str, str, float], dict] = {}  # (init, evaluator, fraction) → seeds, n_labels, kind
    for r in rows:
        if r.seed == ALL_SEEDS:
            continue
        c = cells.setdefault((r.init, r.evaluator, r.fraction), {"seeds": {}, "kind": r.init_kind})
        c["seeds"][r.seed] = r.n_labels
    means = summarize([r for r in rows if r.seed != ALL_SEEDS])
    baselines = list(dict.fromkeys(i for (i, _, _), c in cells.items() if c["kind"] == BASELINE))
    out: list[ResultRow] = []
    for name, build in builders.items():
        metrics: dict[tuple[str, str, float], Metric] = {}
        for (init, evaluator, fraction), c in cells.items():
            seeds = sorted(c["seeds"])
            per_seed = [predictions.get(init, evaluator, fraction, s) for s in seeds]
            if any(p is None for p in per_seed) or (name, init, evaluator, fraction) not in means:
                continue
            metric = build(per_seed, predictions.test)
            if metric is None:
                continue
            metric = metrics[(init, evaluator, fraction)] = _memoised(metric)
            ci = bootstrap_interval(metric, N_BOOT, BOOT_SEED, LEVEL)
            n_labels, kind = min(c["seeds"].values()), c["kind"]
            out += [ResultRow(init, evaluator, fraction, n_labels, ALL_SEEDS, f"{name}.{suffix}", value, kind)
                    for suffix, value in ((CI_LOW, ci.low), (CI_HIGH, ci.high))]
        for (init, evaluator, fraction), metric in metrics.items():
            c = cells[(init, evaluator, fraction)]
            if c["kind"] != PRETRAINED:
                continue
            base = best_baseline(name, evaluator, fraction, means, baselines)
            if base is None or (base, evaluator, fraction) not in metrics:
                continue
            if sorted(cells[(base, evaluator, fraction)]["seeds"]) != sorted(c["seeds"]):
                continue  # not the same label subsets: no paired comparison
            d = paired_difference(metric, metrics[(base, evaluator, fraction)], N_BOOT, BOOT_SEED, LEVEL)
            n_labels = min(c["seeds"].values())
            out += [ResultRow(init, evaluator, fraction, n_labels, ALL_SEEDS, f"{name}.{suffix}", value, PRETRAINED)
                    for suffix, value in ((DIFF, d.difference), (DIFF_LOW, d.low), (DIFF_HIGH, d.high))]
    return out
