"""Linear probe: scikit-learn logistic regression on standardised frozen features.

The inverse regularisation strength C is chosen on a validation split carved from the labelled
subset (accuracy, ties broken by the lower log-loss, then by the smaller C), then the scaler and the
model are refit on the whole labelled subset with that C. The test set plays no part in the choice.
The backbone is not involved at all: the probe sees features only, so the weights cannot change
(the sweep checks this by hashing the backbone before and after).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

log = logging.getLogger(__name__)

C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 7))  # 1e-4 … 1e2, one per decade
DEFAULT_C = 1.0  # scikit-learn's default, used only when there is no validation data


@dataclass
class ProbeResult:
    predictions: np.ndarray
    probabilities: np.ndarray  # N_test × num_classes (columns for classes absent from training are 0)
    C: float
    selected_on_validation: bool


def _fit(model, features: np.ndarray, labels: np.ndarray):
    with warnings.catch_warnings():
        # lbfgs not fully converged at the weakest regularisation on tiny sets is harmless here
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(features, labels)


def _proba(model, features: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(features), num_classes))
    out[:, model.classes_] = model.predict_proba(features)
    return out


def select_c(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    val_features: np.ndarray,
    val_labels: np.ndarray,
    num_classes: int,
    c_grid: tuple[float, ...] = C_GRID,
    max_iter: int = 1000,
) -> tuple[float, bool]:
    """(C, chosen on validation?): fit on train for each C, keep the best on val; DEFAULT_C without val."""
    if len(val_labels) == 0 or len(np.unique(train_labels)) < 2:
        return DEFAULT_C, False
    scaler = StandardScaler().fit(train_features)
    train_x, val_x = scaler.transform(train_features), scaler.transform(val_features)
    # C ascending with warm starts: each fit starts from the previous, more regularised solution
    model = LogisticRegression(max_iter=max_iter, warm_start=True)
    best_key, best_c = None, DEFAULT_C
    for C in sorted(c_grid):
        proba = _proba(_fit(model.set_params(C=C), train_x, train_labels), val_x, num_classes)
        acc = float((proba.argmax(1) == val_labels).mean())
        loss = float(-np.log(np.clip(proba[np.arange(len(val_labels)), val_labels], 1e-12, None)).mean())
        key = (-acc, loss, C)
        if best_key is None or key < best_key:
            best_key, best_c = key, C
    return best_c, True


def linear_probe(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    val_features: np.ndarray,
    val_labels: np.ndarray,
    test_features: np.ndarray,
    num_classes: int,
    c_grid: tuple[float, ...] = C_GRID,
    max_iter: int = 1000,
) -> ProbeResult:
    """Select C on (train → val), refit on train ∪ val, predict the test features."""
    best_c, selected_on_val = select_c(train_features, train_labels, val_features, val_labels, num_classes,
                                       c_grid, max_iter)
    all_features = np.concatenate([train_features, val_features])
    all_labels = np.concatenate([train_labels, val_labels])
    if len(np.unique(all_labels)) < 2:  # logistic regression needs two classes; predict the only one
        proba = np.zeros((len(test_features), num_classes))
        proba[:, int(all_labels[0])] = 1.0
        return ProbeResult(proba.argmax(1), proba, best_c, False)
    final = _fit(make_pipeline(StandardScaler(), LogisticRegression(C=best_c, max_iter=max_iter)),
                 all_features, all_labels)
    proba = _proba(final, test_features, num_classes)
    return ProbeResult(proba.argmax(1), proba, best_c, selected_on_val)
