"""Classification metrics, all from scikit-learn, all in [0, 1] and higher-is-better.

accuracy, balanced accuracy (mean per-class recall: honest on imbalanced sets such as chest X-rays),
macro-F1, and AUROC: binary on the positive class's score, one-vs-rest macro average for more
classes. AUROC is NaN when it is undefined (a single class in the test labels, or no scores).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "auroc")


def classification_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray | None,
    num_classes: int,
) -> dict[str, float]:
    """``scores``: N × num_classes class probabilities (rows sum to 1), or None."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    with warnings.catch_warnings():
        # a class absent from the test labels makes sklearn warn about ill-defined recall; the
        # metric is still what we want (computed over the classes present)
        warnings.simplefilter("ignore", UserWarning)
        result = {
            "accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        }
    result["auroc"] = auroc(y_true, scores, num_classes)
    return result


def auroc(y_true: np.ndarray, scores: np.ndarray | None, num_classes: int) -> float:
    present = np.unique(y_true)
    if scores is None or len(present) < 2:
        return math.nan
    scores = np.asarray(scores, dtype=np.float64)
    if num_classes == 2:
        return float(roc_auc_score(y_true, scores[:, 1]))
    # One-vs-rest over the classes present in the test set; sklearn wants those columns to sum
    # to 1, so renormalise them (a no-op when every class is present).
    sub = scores[:, present]
    sub = sub / np.clip(sub.sum(axis=1, keepdims=True), 1e-12, None)
    if len(present) == 2:
        return float(roc_auc_score(y_true == present[1], sub[:, 1]))
    return float(roc_auc_score(y_true, sub, multi_class="ovr", average="macro", labels=present))
