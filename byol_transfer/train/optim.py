"""Optimisers (LARS, AdamW, SGD) with BYOL's parameter groups, and the warmup + cosine LR schedule."""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from ..config import OptimConfig


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise trust ratios (You et al. 2017), as BYOL trains with it.

    Groups with ``lars_exclude=True`` (biases and BatchNorm parameters) get neither weight decay nor
    the trust-ratio adaptation, as in the BYOL paper.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        eps: float = 1e-8,
    ) -> None:
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay,
            trust_coefficient=trust_coefficient, eps=eps, lars_exclude=False,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if not group["lars_exclude"]:
                    if group["weight_decay"]:
                        update = update.add(p, alpha=group["weight_decay"])
                    param_norm = torch.linalg.vector_norm(p)
                    update_norm = torch.linalg.vector_norm(update)
                    trust = group["trust_coefficient"] * param_norm / (update_norm + group["eps"])
                    # A zero-norm parameter or update keeps the plain SGD step.
                    trust = torch.where((param_norm > 0) & (update_norm > 0), trust, torch.ones_like(trust))
                    update = update * trust
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.clone(update).detach()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(update)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight matrices and kernels get weight decay; biases and norm parameters (ndim ≤ 1) do not."""
    decay, no_decay = [], []
    for param in model.parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay, "lars_exclude": False},
        {"params": no_decay, "weight_decay": 0.0, "lars_exclude": True},
    ]


def scaled_lr(cfg: OptimConfig, global_batch_size: int) -> float:
    """The linear scaling rule: base_lr × batch / 256."""
    return cfg.base_lr * global_batch_size / 256


def build_optimizer(model: nn.Module, cfg: OptimConfig, global_batch_size: int) -> torch.optim.Optimizer:
    lr = scaled_lr(cfg, global_batch_size)
    groups = parameter_groups(model, cfg.weight_decay)
    if cfg.name == "lars":
        return LARS(groups, lr=lr, momentum=cfg.momentum, trust_coefficient=cfg.trust_coefficient)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=tuple(cfg.betas))  # type: ignore[arg-type]
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.momentum)


def lr_factor(step: int, total_steps: int, warmup_fraction: float, final_fraction: float = 0.0) -> float:
    """Multiplier of the peak LR at ``step``: linear warmup from 0, then cosine down to ``final_fraction``."""
    warmup = int(round(warmup_fraction * total_steps))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    progress = min(progress, 1.0)
    return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, total_steps: int | Callable[[], int]
) -> torch.optim.lr_scheduler.LambdaLR:
    """Warmup + cosine over ``total_steps``: a number, or a function returning the current plan (a
    time-budgeted run fixes its total only after timing its first steps, see train/budget.py)."""
    total = total_steps if callable(total_steps) else (lambda: total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_factor(step, total(), cfg.warmup_fraction, cfg.final_lr_fraction),
    )
