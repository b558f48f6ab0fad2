"""BYOL's loss as small pure functions (solo-learn style), tested on constructed inputs."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def byol_pair_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """2 − 2·cos(p, z) averaged over the batch: 0 for aligned vectors, 4 for opposite ones.

    Equals the mean squared distance between the L2-normalised vectors. ``target`` must already be
    detached (computed under ``no_grad``): the stop-gradient is the caller's contract, asserted here.
    """
    if target.requires_grad:
        raise ValueError("BYOL target projections must not require gradients (stop-gradient)")
    p = F.normalize(prediction.float(), dim=-1)
    z = F.normalize(target.float(), dim=-1)
    return (2 - 2 * (p * z).sum(dim=-1)).mean()


def byol_symmetric_loss(
    prediction1: torch.Tensor,
    prediction2: torch.Tensor,
    target1: torch.Tensor,
    target2: torch.Tensor,
) -> torch.Tensor:
    """The paper's symmetrised loss L + L~: view 1's prediction against view 2's target and vice versa.

    The two directions are *summed*, as in the paper (averaging them halves the gradient; lightly's
    benchmark lost kNN points that way, lightly#1286). Range [0, 8].
    """
    return byol_pair_loss(prediction1, target2) + byol_pair_loss(prediction2, target1)
