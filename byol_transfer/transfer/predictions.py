"""Per-image test predictions of every sweep cell, kept for the statistics and saved as predictions.npz.

A cell's metrics are functions of its per-image predictions on the shared test set, so these are what
``transfer/statistics.py`` resamples (and what a reader needs to recompute or re-test any number).

Layout of ``OUT/predictions.npz`` (``numpy.load``; one array per key, keys joined by ``/``):

- ``test/labels``: N test labels (classification only), the order of every per-image array below;
- ``INIT/EVALUATOR/FRACTION/SEED/NAME``: one cell and label seed, ``FRACTION`` as results.csv writes it
  (``repr(float)``, e.g. ``0.1``), ``EVALUATOR`` the results.csv row name (``knn@20``, ``unet-finetune``):
  - classification: ``predicted`` (N predicted class indices) and ``scores`` (N × C class scores or
    probabilities, as the evaluator scored them; absent when it gave none);
  - segmentation: ``counts`` (N × K × 4 pixel counts per test image and class: tp, fp, fn, tn, from
    ``smp.metrics.get_stats``; summed over images they give the reported IoU/Dice).

Written once, at the end of the sweep (atomically), like the statistics rows of results.csv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from ..io import atomic_path

TEST = "test"


def cell_key(init: str, evaluator: str, fraction: float, seed: int) -> str:
    return f"{init}/{evaluator}/{float(fraction)!r}/{int(seed)}"


class Predictions:
    """The per-image arrays of every (init, evaluator, fraction, seed), plus the test set's own arrays."""

    def __init__(self, test: Mapping[str, np.ndarray] | None = None) -> None:
        self.test = {k: np.asarray(v) for k, v in (test or {}).items()}
        self.cells: dict[str, dict[str, np.ndarray]] = {}

    def add(self, init: str, evaluator: str, fraction: float, seed: int, arrays: Mapping[str, np.ndarray]) -> None:
        arrays = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
        if arrays:
            self.cells[cell_key(init, evaluator, fraction, seed)] = arrays

    def get(self, init: str, evaluator: str, fraction: float, seed: int) -> dict[str, np.ndarray] | None:
        return self.cells.get(cell_key(init, evaluator, fraction, seed))

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"{TEST}/{k}": v for k, v in self.test.items()}
        out.update({f"{key}/{name}": v for key, arrays in self.cells.items() for name, v in arrays.items()})
        return out

    def save(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp, tmp.open("wb") as f:  # a file object: savez would append ".npz"
            np.savez_compressed(f, **self.arrays())
        return Path(path)


def load_predictions(path: str | Path) -> Predictions:
    """predictions.npz back into a :class:`Predictions` (see the module docstring for the keys)."""
    out = Predictions()
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            head, _, name = key.partition("/")
            if head == TEST and "/" not in name:  # a cell key has 5 parts, even for an init named "test"
                out.test[name] = npz[key]
                continue
            init, evaluator, fraction, seed, name = key.rsplit("/", 4)
            out.cells.setdefault(cell_key(init, evaluator, float(fraction), int(seed)), {})[name] = npz[key]
    return out
