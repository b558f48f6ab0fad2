"""The one fine-tuning loop: a pretrained backbone inside a task's model, trained on a labelled subset.

Both tasks run this loop; what differs (how a batch is made, the loss, how validation scores a model)
comes from the task as :class:`TaskHooks`. Choices, and where they come from:

- Learning rates: the new layers (classifier head, segmentation decoder) get ``lr``, the pretrained
  backbone ``lr × backbone_lr_ratio``: pretrained layers should move less than randomly initialised
  ones (discriminative fine-tuning, Howard & Ruder 2018). AdamW with cosine decay over all steps, no
  weight decay on biases and norms (parameters with one dimension).
- A batch of one sample is never formed (BatchNorm's batch variance is undefined): a trailing single
  sample joins the previous batch. A training set of one sample trains with running statistics.
- Tiny subsets: an epoch is at least ``min_epoch_samples`` samples (the subset repeated, reshuffled),
  so 10 labels get as many optimiser steps per epoch as 320 do.
- Model selection on the validation split only: after each epoch the task scores the model (a key,
  lower is better); the best epoch's weights are kept, and ``patience`` epochs without a better key
  stop training (0: never stop early). Without validation data the last epoch's weights are kept.
- Semi-supervised (``consistency``, a :class:`~byol_transfer.semisup.Consistency`): each step adds the
  method's unlabelled loss, and the network it names (e.g. an EMA teacher) is the one validated and kept,
  so supervised and semi-supervised training differ only in that term.
- ``freeze_backbone``: backbone parameters get no gradient *and* the backbone stays in eval mode (its
  BatchNorm statistics do not move either); its weights and buffers are compared after training.

The loop trains ``model`` in place; the caller builds it (seeded) and keeps the pretrained original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import torch
from torch import nn

from ..semisup.consistency import Consistency


@dataclass(frozen=True)
class Schedule:
    """The loop's settings; each evaluator's settings name their own defaults and map onto these."""

    epochs: int
    batch_size: int
    lr: float  # the new layers
    backbone_lr_ratio: float  # the pretrained layers get lr × this
    weight_decay: float
    patience: int  # epochs without a better validation key before stopping; 0: never stop early
    min_epoch_samples: int
    freeze_backbone: bool = False


class TaskHooks(Protocol):
    """What the loop asks of a task for one cell."""

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augmented, normalised inputs and their targets for training samples ``idx``, on the device."""
        ...

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ...

    def validate(self, model: nn.Module) -> tuple[tuple[float, ...], dict[str, float]]:
        """(selection key, lower is better; values worth recording) of ``model`` on the validation split."""
        ...


@dataclass
class LoopResult:
    best_epoch: int  # 1-based: the epoch whose weights the model now holds
    epochs_run: int
    validated: bool  # False when there was no validation data (then: the last epoch's weights)
    best: dict[str, float] = field(default_factory=dict)  # the validation values of the kept epoch
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: train loss, validation values
    consistency_stats: dict[str, float] = field(default_factory=dict)  # means over steps (semi-supervised)


def batches(n: int, batch_size: int, min_samples: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch's index batches: the set repeated up to ``min_samples``, shuffled, never a lone sample."""
    repeats = max(1, math.ceil(min_samples / n))
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(repeats)])
    out = list(order.split(batch_size))
    if len(out) > 1 and len(out[-1]) == 1:
        last = out.pop()  # popped first: indexing [-2] after the pop would pick the wrong batch
        out[-1] = torch.cat([out[-1], last])
    return out


def param_groups(model: nn.Module, backbone: nn.Module, lr: float, ratio: float, weight_decay: float) -> list[dict]:
    """Backbone at ``lr × ratio``, everything else at ``lr``; no decay on biases and norms."""
    backbone_ids = {id(p) for p in backbone.parameters()}
    rest = [p for p in model.parameters() if id(p) not in backbone_ids]
    groups = []
    for params, group_lr in ((list(backbone.parameters()), lr * ratio), (rest, lr)):
        trainable = [p for p in params if p.requires_grad]
        groups += [{"params": [p for p in trainable if p.ndim > 1], "lr": group_lr, "weight_decay": weight_decay},
                   {"params": [p for p in trainable if p.ndim <= 1], "lr": group_lr, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def train_mode(model: nn.Module, backbone: nn.Module, frozen: bool) -> None:
    """``model.train()``, except that a frozen backbone stays in eval mode (BN statistics do not move)."""
    model.train()
    if frozen:
        backbone.eval()


def finetune(
    model: nn.Module,
    backbone: nn.Module,
    hooks: TaskHooks,
    n_train: int,
    has_validation: bool,
    schedule: Schedule,
    seed: int,
    consistency: Callable[[nn.Module], Consistency] | None = None,
) -> LoopResult:
    """Train ``model`` (whose pretrained part is ``backbone``) on ``n_train`` samples; see the module docstring.

    ``consistency`` builds the semi-supervised term for the model being trained (None: supervised). The
    model ends holding the kept weights (the teacher's, with a teacher) in eval mode.
    """
    frozen = schedule.freeze_backbone
    if frozen:
        for p in backbone.parameters():
            p.requires_grad_(False)
        snapshot = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    optimizer = torch.optim.AdamW(param_groups(model, backbone, schedule.lr, schedule.backbone_lr_ratio,
                                               schedule.weight_decay))
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(batches(n_train, schedule.batch_size, schedule.min_epoch_samples, torch.Generator()))
    total = max(1, schedule.epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))
    unlabeled = consistency(model) if consistency is not None else None
    logged: dict[str, list[float]] = {}
    history: list[dict[str, float]] = []

    best_key, best_state, best_values, best_epoch, stale, epoch, step = None, None, {}, 0, 0, 0, 0
    for epoch in range(1, schedule.epochs + 1):
        train_mode(model, backbone, frozen)
        losses = []
        for idx in batches(n_train, schedule.batch_size, schedule.min_epoch_samples, generator):
            x, y = hooks.train_batch(idx)
            if len(idx) == 1:  # a one-sample training set: BN cannot use batch statistics, so use running ones
                model.eval()
            loss = hooks.loss(model(x), y)
            if unlabeled is not None:
                train_mode(model, backbone, frozen)
                extra, stats = unlabeled.loss(model, step, total)
                loss = loss + extra
                for key, value in stats.items():
                    logged.setdefault(key, []).append(value)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            if unlabeled is not None:
                unlabeled.after_step(model)
            step += 1
            train_mode(model, backbone, frozen)
            losses.append(loss.item())
        record = {"epoch": float(epoch), "train_loss": float(np.mean(losses))}
        if has_validation:
            evaluated = unlabeled.eval_model(model) if unlabeled is not None else model
            key, values = hooks.validate(evaluated)
            record.update(values)
            if best_key is None or key < best_key:
                best_key, best_values, best_epoch, stale = key, values, epoch, 0
                best_state = {k: v.detach().clone() for k, v in evaluated.state_dict().items()}
            else:
                stale += 1
        history.append(record)
        if has_validation and schedule.patience and stale >= schedule.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state, strict=True)
    else:
        best_epoch = epoch
        if unlabeled is not None:  # e.g. a teacher: the network the method evaluates is the one kept
            model.load_state_dict(unlabeled.eval_model(model).state_dict(), strict=True)
    model.eval()
    if frozen:
        after = backbone.state_dict()
        changed = [k for k, v in snapshot.items() if not torch.equal(after[k], v)]
        if changed:
            raise RuntimeError(f"the frozen backbone changed during training: {', '.join(changed[:5])}")
    stats = {key: float(np.mean(values)) for key, values in logged.items()}
    return LoopResult(best_epoch, epoch, has_validation, best_values, history, stats)
