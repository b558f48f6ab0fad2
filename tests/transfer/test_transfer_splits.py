import json

import numpy as np
import pytest

from byol_transfer.errors import UserError
from byol_transfer.transfer.splits import carve_validation, nested_subsets, plan_splits, save_splits, stratified_holdout

# imbalanced: 500, 120, 37 and 3 samples
LABELS = np.repeat([0, 1, 2, 3], [500, 120, 37, 3])
FRACTIONS = (0.01, 0.1, 1.0)


def per_class(indices):
    return np.bincount(LABELS[indices], minlength=4)


def test_subsets_are_stratified_with_at_least_one_per_class():
    subsets = nested_subsets(LABELS, FRACTIONS, seed=0)
    assert per_class(subsets[0.01]).tolist() == [5, 1, 1, 1]
    assert per_class(subsets[0.1]).tolist() == [50, 12, 4, 1]
    assert per_class(subsets[1.0]).tolist() == [500, 120, 37, 3]


def test_subsets_are_nested_across_fractions():
    for seed in range(3):
        s = nested_subsets(LABELS, FRACTIONS, seed)
        assert set(s[0.01]) <= set(s[0.1]) <= set(s[1.0])


def test_subsets_are_deterministic_per_seed_and_differ_between_seeds():
    a, b, c = (nested_subsets(LABELS, FRACTIONS, seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a[f], b[f]) for f in FRACTIONS)
    assert not np.array_equal(a[0.1], c[0.1])


def test_fractions_outside_zero_one_are_refused():
    with pytest.raises(UserError, match="--fractions"):
        nested_subsets(LABELS, (0.0, 0.5), 0)
    with pytest.raises(UserError, match="--fractions"):
        nested_subsets(LABELS, (1.5,), 0)


def test_validation_is_carved_per_class_and_never_takes_a_last_sample():
    subset = nested_subsets(LABELS, (0.1,), 0)[0.1]  # 50, 12, 4, 1 per class
    train, val = carve_validation(subset, LABELS, 0.2, seed=0)
    assert sorted(np.concatenate([train, val]).tolist()) == sorted(subset.tolist())
    assert not set(train) & set(val)
    assert per_class(val).tolist() == [10, 2, 1, 0]
    assert (per_class(train) >= 1).all()


def test_holdout_is_stratified_and_disjoint():
    pool, test = stratified_holdout(LABELS, 0.2, seed=0)
    assert not set(pool) & set(test) and len(pool) + len(test) == len(LABELS)
    assert per_class(test).tolist() == [100, 24, 7, 1]


def test_plan_is_saved_and_reused_exactly(tmp_path):
    path = tmp_path / "splits.json"
    plan = plan_splits(LABELS, "digest", FRACTIONS, [0, 1], test_digest=None)
    save_splits(plan, path)
    stored = json.loads(path.read_text())
    assert stored["test"]["source"] == "holdout" and len(stored["subsets"]) == 2
    # nothing of the test hold-out is ever in a labelled subset
    for seed in (0, 1):
        train, val = plan.subset(seed, 1.0)
        assert not set(plan.test) & (set(train) | set(val))
    # a stored file wins over recomputation: tamper with it and the tampered subset comes back
    stored["subsets"]["0"]["0.01"]["train"] = [0, 500]
    path.write_text(json.dumps(stored))
    again = plan_splits(LABELS, "digest", FRACTIONS, [0, 1, 2], test_digest=None, stored=path)
    assert again.subset(0, 0.01)[0].tolist() == [0, 500]
    assert np.array_equal(again.test, plan.test) and 2 in again.subsets


def test_plan_refuses_a_splits_file_made_for_other_data(tmp_path):
    path = tmp_path / "splits.json"
    save_splits(plan_splits(LABELS, "digest", FRACTIONS, [0], test_digest=None), path)
    with pytest.raises(UserError, match="other data"):
        plan_splits(LABELS, "another digest", FRACTIONS, [0], test_digest=None, stored=path)
    with pytest.raises(UserError, match="different test set"):
        plan_splits(LABELS, "digest", FRACTIONS, [0], test_digest="its own test set", stored=path)
