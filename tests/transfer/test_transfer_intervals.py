"""Bootstrap intervals over shared test images, and paired differences between two inits."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from byol_transfer.transfer.intervals import (
    accuracy,
    auroc,
    binary_or_ovr_auroc,
    bootstrap_interval,
    miou,
    paired_difference,
)


def _predictions(rng: np.random.Generator, labels: np.ndarray, p_correct: float, classes: int = 10) -> np.ndarray:
    """Labels, each replaced by a wrong class with probability 1 - p_correct."""
    wrong = (labels + rng.integers(1, classes, len(labels))) % classes
    return np.where(rng.random(len(labels)) < p_correct, labels, wrong)


def test_interval_contains_the_estimate_and_the_estimate_is_the_seed_mean():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 500)
    preds = [_predictions(rng, labels, p) for p in (0.6, 0.7, 0.8)]
    result = bootstrap_interval(accuracy(labels, preds), n_boot=500)
    expected = np.mean([(p == labels).mean() for p in preds])
    assert result.estimate == pytest.approx(expected, abs=1e-12)
    assert result.low < result.estimate < result.high
    assert result.n_boot == 500 and result.skipped == 0


def test_more_test_images_give_a_narrower_interval():
    rng = np.random.default_rng(2)
    widths = []
    for n in (100, 2500):
        labels = rng.integers(0, 10, n)
        r = bootstrap_interval(accuracy(labels, [_predictions(rng, labels, 0.7)]), n_boot=500)
        widths.append(r.high - r.low)
    # binomial: width ∝ 1/sqrt(n), so 25x the images is ~5x narrower
    assert widths[1] < widths[0] / 3


def test_covers_the_true_accuracy_at_about_the_nominal_rate():
    rng = np.random.default_rng(3)
    true_p, hits, trials = 0.7, 0, 200
    for t in range(trials):
        labels = rng.integers(0, 10, 200)
        r = bootstrap_interval(accuracy(labels, [_predictions(rng, labels, true_p)]), n_boot=400, seed=t)
        hits += r.low <= true_p <= r.high
    assert 0.88 <= hits / trials <= 0.99, hits / trials


def test_seeded_draws_are_reproducible_and_the_seed_matters():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 10, 300)
    metric = accuracy(labels, [_predictions(rng, labels, 0.7), _predictions(rng, labels, 0.75)])
    first, again = bootstrap_interval(metric, seed=7), bootstrap_interval(metric, seed=7)
    other = bootstrap_interval(metric, seed=8)
    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other.low, other.high)


def test_every_seed_sees_the_same_resampled_images():
    """The test set is shared: two seeds with the same predictions are no more certain than one.
    (Resampling each seed on its own would average two independent draws and narrow it by ~sqrt(2).)"""
    rng = np.random.default_rng(15)
    labels = rng.integers(0, 10, 400)
    p = _predictions(rng, labels, 0.7)
    one, two = bootstrap_interval(accuracy(labels, [p])), bootstrap_interval(accuracy(labels, [p, p.copy()]))
    assert (one.low, one.high) == pytest.approx((two.low, two.high), abs=1e-12)


def test_identical_predictions_differ_by_exactly_zero_within_noise():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 400)
    preds = [_predictions(rng, labels, 0.7) for _ in range(3)]
    d = paired_difference(accuracy(labels, preds), accuracy(labels, [p.copy() for p in preds]))
    assert (d.difference, d.low, d.high) == (0.0, 0.0, 0.0)
    assert d.within_noise


def test_a_clearly_better_init_has_an_interval_excluding_zero():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, 1000)
    good = accuracy(labels, [_predictions(rng, labels, 0.85) for _ in range(3)])
    poor = accuracy(labels, [_predictions(rng, labels, 0.65) for _ in range(3)])
    d = paired_difference(good, poor)
    assert d.difference == pytest.approx(good.estimate() - poor.estimate())
    assert 0 < d.low < d.difference < d.high
    assert not d.within_noise


def test_shared_resampling_is_narrower_than_independent_for_correlated_inits():
    """b is a with 30 extra images right: a perfect correlation that independent draws would ignore."""
    rng = np.random.default_rng(7)
    n = 1000
    labels = rng.integers(0, 10, n)
    a = _predictions(rng, labels, 0.6)
    b = a.copy()
    fixable = np.flatnonzero(a != labels)[:30]
    b[fixable] = labels[fixable]
    d = paired_difference(accuracy(labels, [b]), accuracy(labels, [a]), n_boot=1000)
    assert d.difference == pytest.approx(30 / n)
    assert d.low > 0  # every shared draw has b >= a

    # what independent resampling of the two inits would say
    draws = np.random.default_rng(0)
    ia, ib = draws.integers(0, n, (1000, n)), draws.integers(0, n, (1000, n))
    independent = (b[ib] == labels[ib]).mean(1) - (a[ia] == labels[ia]).mean(1)
    low, high = np.quantile(independent, [0.025, 0.975])
    assert low < 0 < high  # independent draws would call it noise
    assert (d.high - d.low) < 0.3 * (high - low)


def test_auroc_interval_skips_and_counts_one_class_draws():
    rng = np.random.default_rng(8)
    labels = np.zeros(12, dtype=int)
    labels[0] = 1  # one positive in 12: (11/12)^12 ≈ 35 % of draws have no positive
    scores = [np.column_stack([1 - s, s]) for s in (rng.random(12), rng.random(12))]
    r = bootstrap_interval(auroc(labels, scores), n_boot=400)
    assert 80 < r.skipped < 220
    assert r.n_boot + r.skipped == 400
    expected = np.mean([roc_auc_score(labels, s[:, 1]) for s in scores])
    assert r.estimate == pytest.approx(expected)
    assert 0.0 <= r.low <= r.high <= 1.0


def test_auroc_takes_the_sweeps_own_metric_function():
    rng = np.random.default_rng(9)
    labels = rng.integers(0, 2, 200)
    scores = [np.column_stack([1 - s, s]) for s in [rng.random(200)]]
    calls = []

    def half(y, s):
        calls.append(len(y))
        return 0.5

    r = bootstrap_interval(auroc(labels, scores, metric=half), n_boot=20)
    assert (r.estimate, r.low, r.high) == (0.5, 0.5, 0.5)
    assert len(calls) == 21 and set(calls) == {200}  # full set once, then one call per draw and seed


def test_multiclass_auroc_matches_sklearn_ovr():
    rng = np.random.default_rng(10)
    labels = rng.integers(0, 4, 300)
    raw = rng.random((300, 4)) + np.eye(4)[labels]
    probs = raw / raw.sum(1, keepdims=True)
    metric = auroc(labels, [probs])
    assert metric.estimate() == pytest.approx(roc_auc_score(labels, probs, multi_class="ovr", average="macro"))


@pytest.mark.parametrize("classes", [2, 4])
def test_vectorised_auroc_equals_sklearn_on_every_draw(classes):
    """Including tied scores and draws that miss a class (those take sklearn's own path)."""
    rng = np.random.default_rng(13)
    labels = rng.integers(0, classes, 30)
    raw = np.round(rng.random((30, classes)) + 0.5 * np.eye(classes)[labels], 1)  # rounding: ties
    probs = raw / raw.sum(1, keepdims=True)
    fast = auroc(labels, [probs])
    slow = auroc(labels, [probs], metric=binary_or_ovr_auroc)
    idx = np.random.default_rng(0).integers(0, 30, (60, 30))
    np.testing.assert_allclose(fast.score(idx), slow.score(idx), atol=1e-12)
    manual = [roc_auc_score(labels[r] == 1, probs[r, 1]) if len(set(labels[r])) > 1 else np.nan
              for r in idx] if classes == 2 else None
    if manual is not None:
        np.testing.assert_allclose(fast.score(idx)[:, 0], manual, atol=1e-12)


def test_auroc_interval_is_fast_at_eurosat_size():
    rng = np.random.default_rng(14)
    labels = rng.integers(0, 10, 5400)
    raw = rng.random((5400, 10)) + np.eye(10)[labels]
    metric = auroc(labels, [raw / raw.sum(1, keepdims=True)] * 3)
    started = time.perf_counter()
    bootstrap_interval(metric, n_boot=1000)
    assert time.perf_counter() - started < 20.0  # ~3 s alone on 1 thread; sklearn one call at a time: ~100 s


def test_miou_from_per_image_counts_sums_before_dividing():
    # two images, two classes; per image (tp, fp, fn, tn)
    counts = np.array([[[4, 0, 0, 0], [0, 2, 2, 0]],
                       [[0, 0, 4, 0], [6, 0, 0, 0]]], dtype=np.int64)
    metric = miou([counts])
    # summed: class 0 tp 4 fp 0 fn 4 → 0.5; class 1 tp 6 fp 2 fn 2 → 0.6; mean 0.55
    assert metric.estimate() == pytest.approx(0.55)
    # a draw of image 0 twice: class 0 → 1.0, class 1 → 0/4 = 0.0
    assert metric.score(np.array([[0, 0]]))[0, 0] == pytest.approx(0.5)
    # a class absent from masks and predictions is left out of the mean, not counted as 0
    absent = np.array([[[3, 1, 0, 0], [0, 0, 0, 9]]])
    assert miou([absent]).estimate() == pytest.approx(0.75)


def test_miou_interval_and_paired_difference_run_over_seeds():
    rng = np.random.default_rng(11)
    n, k = 40, 3
    tp = rng.integers(50, 100, (2, n, k))
    noise = rng.integers(0, 30, (2, n, k, 2))
    counts = [np.concatenate([tp[s][..., None], noise[s], np.zeros((n, k, 1), int)], axis=2) for s in range(2)]
    metric = miou(counts)
    r = bootstrap_interval(metric, n_boot=300)
    assert r.low < r.estimate < r.high
    assert paired_difference(metric, miou([c.copy() for c in counts])).within_noise


def test_an_undefined_difference_claims_nothing():
    labels = np.zeros(8, int)  # one class: AUROC undefined on every draw
    scores = [np.column_stack([np.ones(8) - s, s]) for s in [np.linspace(0, 1, 8)]]
    d = paired_difference(auroc(labels, scores), auroc(labels, [1 - scores[0]]), n_boot=50)
    assert np.isnan(d.low) and np.isnan(d.high) and d.skipped == 50 and d.n_boot == 0
    assert d.within_noise


def test_accuracy_interval_is_fast_at_eurosat_size():
    rng = np.random.default_rng(12)
    labels = rng.integers(0, 10, 5400)
    metric = accuracy(labels, [_predictions(rng, labels, 0.7) for _ in range(3)])
    started = time.perf_counter()
    bootstrap_interval(metric, n_boot=1000)
    assert time.perf_counter() - started < 1.0


def test_mismatched_cells_are_refused():
    labels = np.zeros(10, int)
    with pytest.raises(ValueError, match="same test images"):
        accuracy(labels, [np.zeros(10, int), np.zeros(9, int)])
    with pytest.raises(ValueError, match="same label seeds"):
        paired_difference(accuracy(labels, [labels]), accuracy(labels, [labels, labels]))
    with pytest.raises(ValueError, match="same test set"):
        paired_difference(accuracy(labels, [labels]), accuracy(labels[:5], [labels[:5]]))
