"""The target network's exponential moving average: τ(step) as a pure function and a fused update."""

from __future__ import annotations

import math

import torch


def ema_tau(step: int, total_steps: int, base_tau: float = 0.996) -> float:
    """τ_k = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2: τ_base at k=0, (1+τ_base)/2 at K/2, 1 at K.

    Steps past K stay at 1 (the target stops moving), so a run extended beyond its schedule is safe.
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    k = min(max(step, 0), total_steps)
    return 1.0 - (1.0 - base_tau) * (math.cos(math.pi * k / total_steps) + 1.0) / 2.0


@torch.no_grad()
def ema_update_(target: torch.nn.Module, online: torch.nn.Module, tau: float) -> None:
    """target ← τ·target + (1 − τ)·online for parameters; buffers (BN statistics) are copied.

    One ``_foreach_lerp_`` call over all parameters instead of a Python loop over tensors.
    The two modules must have the same structure (the target is a deep copy of the online one).
    """
    target_params = list(target.parameters())
    online_params = list(online.parameters())
    if len(target_params) != len(online_params):
        raise ValueError("target and online networks have different parameter counts")
    torch._foreach_lerp_(target_params, online_params, 1.0 - tau)
    target_buffers = [b for b in target.buffers() if b.is_floating_point() or b.dtype == torch.long]
    online_buffers = [b for b in online.buffers() if b.is_floating_point() or b.dtype == torch.long]
    if target_buffers:
        torch._foreach_copy_(target_buffers, online_buffers)
