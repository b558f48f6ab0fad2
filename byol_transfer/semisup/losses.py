"""Semi-supervised losses as small pure functions (tested on known inputs in tests/test_semisup_losses.py)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def pseudo_labels(probabilities: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Hard pseudo-labels (argmax over dim 1) and the mask of those whose confidence is ≥ ``threshold``.

    ``probabilities``: N×K (classification) or N×K×H×W (segmentation). Returns (labels, mask), both
    without the class dimension; the mask is float (1 = keep).
    """
    confidence, labels = probabilities.max(dim=1)
    return labels, (confidence >= threshold).float()


def fixmatch_loss(weak_logits: torch.Tensor, strong_logits: torch.Tensor,
                  threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """FixMatch's unlabelled loss (Sohn et al. 2020, eq. 4): cross-entropy of the strong view's logits
    against the weak view's argmax, counted only where the weak view is confident, averaged over *all*
    unlabelled samples (so few confident samples give a small loss rather than a noisy large one).

    The weak logits are detached here: the pseudo-label is a target, never a path for gradients.
    Works per sample (N×K) and per pixel (N×K×H×W). Returns (loss, mask).
    """
    labels, mask = pseudo_labels(weak_logits.detach().float().softmax(1), threshold)
    per_item = F.cross_entropy(strong_logits.float(), labels, reduction="none")
    return (per_item * mask).mean(), mask


def confident_target_loss(student_logits: torch.Tensor, teacher_probabilities: torch.Tensor,
                          threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel cross-entropy of the student against the teacher's (already aligned) probabilities'
    argmax where the teacher is confident, averaged over all pixels. Pixels the geometric warp brought in
    from outside the tile have all-zero probabilities and are therefore never confident."""
    labels, mask = pseudo_labels(teacher_probabilities.detach().float(), threshold)
    per_pixel = F.cross_entropy(student_logits.float(), labels, reduction="none")
    return (per_pixel * mask).mean(), mask


def sigmoid_rampup(step: int, rampup_steps: int) -> float:
    """exp(−5(1 − t)²) with t = step / rampup_steps (Laine & Aila 2017; the mean teacher's schedule):
    ~0.007 at the start, 1 from ``rampup_steps`` on; 1 throughout when ``rampup_steps`` ≤ 0."""
    if rampup_steps <= 0:
        return 1.0
    t = min(max(step, 0), rampup_steps) / rampup_steps
    return math.exp(-5.0 * (1.0 - t) ** 2)
