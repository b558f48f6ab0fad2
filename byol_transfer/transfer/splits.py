"""Labelled subsets for the label-efficiency sweep: stratified, nested, deterministic, saved.

For one seed, each class's samples are shuffled once; the subset for fraction f takes the first
``max(1, round(f · n_class))`` of that order. So every class keeps at least one label, the subsets are
nested (1% ⊂ 10% ⊂ 100%) by construction, and the same seed gives the same subsets on any machine
(NumPy's PCG64 generator). A validation split for model selection (C of the linear probe, early
stopping of fine-tuning) is carved from each subset: the last ``round(v · n)`` samples of each class,
never its only one. The test split is fixed: the dataset's own, or a seeded stratified hold-out.

Everything is written to ``splits.json`` so a run can be repeated exactly, even if this algorithm
changes in a later version: a stored split is reused as it is, after checking that the data match.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import UserError
from ..io import atomic_write_text

SPLITS_FORMAT = "byol-transfer/label-splits"


def _count(fraction: float, n: int) -> int:
    return min(n, max(1, math.floor(fraction * n + 0.5)))


def check_fractions(fractions: Sequence[float]) -> list[float]:
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise UserError(f"--fractions must lie in (0, 1], got {list(fractions)}")
    return sorted(set(float(f) for f in fractions))


def nested_subsets(labels: Sequence[int], fractions: Sequence[float], seed: int,
                   pool: Sequence[int] | None = None) -> dict[float, np.ndarray]:
    """Per fraction, sorted indices (into ``labels``) of a stratified subset of ``pool`` (default all)."""
    labels = np.asarray(labels)
    pool_idx = np.arange(len(labels)) if pool is None else np.asarray(pool)
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(pool_idx[labels[pool_idx] == c]) for c in np.unique(labels[pool_idx])]
    return {
        f: np.sort(np.concatenate([order[: _count(f, len(order))] for order in orders]))
        for f in check_fractions(fractions)
    }


def carve_validation(indices: np.ndarray, labels: Sequence[int], val_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) from a labelled subset, per class; a class never gives up its last sample.

    Classes with one or two samples give none, so at 1% labels the validation split may be empty;
    evaluators then fall back to fixed settings (and say so in selected.csv).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, len(indices)])
    train, val = [], []
    for c in np.unique(labels[indices]):
        members = rng.permutation(indices[labels[indices] == c])
        n_val = min(len(members) - 1, math.floor(val_fraction * len(members) + 0.5))
        cut = len(members) - max(0, n_val)
        train.append(members[:cut])
        val.append(members[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val)).astype(np.int64)


def stratified_holdout(labels: Sequence[int], test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool, test): a seeded stratified hold-out, used when the data have no test split of their own."""
    if not 0 < test_fraction < 1:
        raise UserError(f"--test-fraction must lie in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pool, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        if len(members) < 2:
            raise UserError(f"class index {c} has a single image: it cannot be both trained and tested on; "
                            "add images or pass --test-data")
        n_test = min(len(members) - 1, max(1, math.floor(test_fraction * len(members) + 0.5)))
        test.append(members[:n_test])
        pool.append(members[n_test:])
    return np.sort(np.concatenate(pool)), np.sort(np.concatenate(test))


@dataclass
class SplitPlan:
    """All index sets of one sweep; indices point into the ``--data`` dataset."""

    data_digest: str
    num_items: int
    pool: np.ndarray
    test: np.ndarray | None  # hold-out indices, or None when the test set is a dataset of its own
    test_digest: str | None
    test_source: str  # "test-data" or "holdout"
    val_fraction: float
    subsets: dict[int, dict[float, dict[str, np.ndarray]]] = field(default_factory=dict)

    def subset(self, seed: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
        cell = self.subsets[seed][fraction]
        return cell["train"], cell["val"]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": SPLITS_FORMAT,
            "version": 1,
            "data": {"sha256": self.data_digest, "items": self.num_items},
            "test": {"source": self.test_source, "sha256": self.test_digest,
                     "indices": None if self.test is None else self.test.tolist()},
            "pool": self.pool.tolist(),
            "val_fraction": self.val_fraction,
            "subsets": {
                str(seed): {repr(f): {k: v.tolist() for k, v in cell.items()} for f, cell in per_f.items()}
                for seed, per_f in self.subsets.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str) -> "SplitPlan":
        try:
            if data["format"] != SPLITS_FORMAT:
                raise KeyError("format")
            test = data["test"]
            return cls(
                data_digest=data["data"]["sha256"], num_items=int(data["data"]["items"]),
                pool=np.asarray(data["pool"], dtype=np.int64),
                test=None if test["indices"] is None else np.asarray(test["indices"], dtype=np.int64),
                test_digest=test["sha256"], test_source=test["source"],
                val_fraction=float(data["val_fraction"]),
                subsets={
                    int(seed): {float(f): {k: np.asarray(v, dtype=np.int64) for k, v in cell.items()}
                                for f, cell in per_f.items()}
                    for seed, per_f in data["subsets"].items()
                },
            )
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{where}: not a label-efficiency splits file ({e})") from None


def plan_splits(
    labels: Sequence[int],
    data_digest: str,
    fractions: Sequence[float],
    seeds: Sequence[int],
    *,
    test_digest: str | None,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    holdout_seed: int = 0,
    stored: Path | None = None,
) -> SplitPlan:
    """The sweep's splits: those in ``stored`` (checked against the data) plus any new seed/fraction.

    ``test_digest`` is the identity of a separate test dataset, or None for a hold-out of the data.
    """
    labels = np.asarray(labels)
    fractions = check_fractions(fractions)
    if stored is not None and stored.is_file():
        try:
            plan = SplitPlan.from_json(json.loads(stored.read_text()), str(stored))
        except json.JSONDecodeError:
            raise UserError(f"{stored}: not valid JSON") from None
        if plan.data_digest != data_digest or plan.num_items != len(labels):
            raise UserError(f"{stored} was made for other data (file list or labels differ); "
                            "use a new --out or delete that file")
        if (test_digest is None) != (plan.test is not None) or (test_digest and plan.test_digest != test_digest):
            raise UserError(f"{stored} was made with a different test set; use a new --out or delete that file")
        if not math.isclose(plan.val_fraction, val_fraction):
            raise UserError(f"{stored} used --val-fraction {plan.val_fraction}, not {val_fraction}")
    else:
        if test_digest is None:
            pool, test = stratified_holdout(labels, test_fraction, holdout_seed)
        else:
            pool, test = np.arange(len(labels)), None
        plan = SplitPlan(data_digest, len(labels), pool, test, test_digest,
                         "test-data" if test_digest else "holdout", val_fraction)
    for seed in seeds:
        per_f = plan.subsets.setdefault(int(seed), {})
        missing = [f for f in fractions if f not in per_f]
        if not missing:
            continue
        for f, subset in nested_subsets(labels, fractions, int(seed), plan.pool).items():
            if f in missing:
                train, val = carve_validation(subset, labels, val_fraction, int(seed))
                per_f[f] = {"train": train, "val": val}
    return plan


def save_splits(plan: SplitPlan, path: Path) -> None:
    atomic_write_text(path, json.dumps(plan.to_json(), separators=(",", ":")) + "\n")
