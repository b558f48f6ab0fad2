"""BYOL's loss as small pure functions (solo-learn style), tested on constructed inputs."""

from __future__ import annotations

from typing import Sequence

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


def byol_multicrop_loss(
    global_predictions: Sequence[torch.Tensor],
    global_targets: Sequence[torch.Tensor],
    local_predictions: Sequence[torch.Tensor] = (),
) -> torch.Tensor:
    """Multi-crop BYOL: every pair of a prediction with a target of *another* view, averaged, × 2.

    Pairs: global view i's prediction with global view j's target for i ≠ j (BYOL's two directions), and
    each local crop's prediction with each global view's target (local crops have no target of their own:
    they never go through the target network). With two global views and N local crops that is 2 + 2N
    pairs. The mean is multiplied by 2 so that without local crops the loss *is* the paper's summed
    :func:`byol_symmetric_loss` (same pairs, same order, same value bit for bit), range [0, 8], and the
    learning rates tuned for it still fit with local crops on; with them each pair weighs 2 / (2 + 2N).
    """
    if len(global_predictions) != len(global_targets) or len(global_targets) < 2:
        raise ValueError("multi-crop BYOL needs a prediction and a target for each of at least 2 global views")
    total, pairs = None, 0
    for i, prediction in enumerate(global_predictions):
        for j, target in enumerate(global_targets):
            if i != j:
                term = byol_pair_loss(prediction, target)
                total, pairs = term if total is None else total + term, pairs + 1
    for prediction in local_predictions:
        for target in global_targets:
            total, pairs = total + byol_pair_loss(prediction, target), pairs + 1
    return total * (2.0 / pairs)
