"""Test metrics of both tasks, all in [0, 1] and higher-is-better.

Classification (scikit-learn): accuracy, balanced accuracy (mean per-class recall: honest on imbalanced
sets such as chest X-rays), macro-F1, and AUROC: binary on the positive class's score, one-vs-rest macro average for more
classes. AUROC is NaN when it is undefined (a single class in the test labels, or no scores).

Segmentation (``smp.metrics``): IoU and Dice per class over all pixels (dataset-level), and their means
over the classes that occur.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch
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


def confusion_counts_per_image(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-image, per-class (tp, fp, fn, tn) pixel counts: an N × num_classes × 4 tensor (what the mIoU
    interval resamples; ``predictions.npz``'s ``counts``)."""
    import segmentation_models_pytorch as smp

    tp, fp, fn, tn = smp.metrics.get_stats(pred.long(), target.long(), mode="multiclass", num_classes=num_classes)
    return torch.stack([tp, fp, fn, tn], dim=-1)


def confusion_counts(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-class (tp, fp, fn, tn) pixel counts summed over the batch: a 4 × num_classes tensor."""
    return confusion_counts_per_image(pred, target, num_classes).sum(0).T


def metrics_from_counts(counts: torch.Tensor, class_names: Sequence[str]) -> dict[str, float]:
    """IoU and Dice per class over all pixels (dataset-level), and their means over classes.

    A class absent from both the masks and the predictions has no IoU (NaN) and is left out of the mean.
    """
    import segmentation_models_pytorch as smp

    tp, fp, fn, tn = (c[None] for c in counts)
    nan = float("nan")
    iou = smp.metrics.iou_score(tp, fp, fn, tn, reduction="none", zero_division=nan)[0]
    dice = smp.metrics.f1_score(tp, fp, fn, tn, reduction="none", zero_division=nan)[0]
    out = {"mIoU": float(np.nanmean(iou.numpy())) if not iou.isnan().all() else nan,
           "mDice": float(np.nanmean(dice.numpy())) if not dice.isnan().all() else nan}
    for name, i, d in zip(class_names, iou.tolist(), dice.tolist()):
        out[f"IoU[{name}]"] = i
        out[f"Dice[{name}]"] = d
    return out


def segmentation_metrics(pred: torch.Tensor, target: torch.Tensor, class_names: Sequence[str]) -> dict[str, float]:
    """IoU/Dice of predicted class maps (N×H×W or H×W) against masks of the same shape."""
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and mask {tuple(target.shape)} differ in shape")
    if pred.ndim == 2:
        pred, target = pred[None], target[None]
    return metrics_from_counts(confusion_counts(pred, target, len(class_names)), class_names)
