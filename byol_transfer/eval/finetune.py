"""Fine-tuning: a copy of the backbone plus a linear head, trained end to end on the labelled subset.

Choices, and where they come from:
- Learning rates: the new head gets ``lr`` (1e-2), the pretrained backbone ``lr × backbone_lr_ratio``
  (0.1×): pretrained layers should move less than a randomly initialised head (discriminative
  fine-tuning, Howard & Ruder 2018). AdamW with cosine decay, no weight decay on biases and norms.
- BatchNorm: trained in batch-statistics mode with running-statistics momentum 0.1 (decay 0.9), the
  faster-adapting setting Kornblith et al. (2019) and SimCLR use for fine-tuning; evaluation uses the
  running statistics. A batch of one sample is never formed (its batch variance is undefined): a
  trailing single sample joins the previous batch.
- Tiny subsets: an epoch is at least ``min_epoch_samples`` samples (the subset repeated), so 10 labels
  get enough optimiser steps; the augmentation makes the repeats differ.
- Early stopping on the validation split only: validation accuracy after each epoch (ties: lower
  validation loss), patience ``patience`` epochs, the best epoch's weights are kept. The model is fit
  on the training part of the subset; without validation data it trains the full ``epochs``.
- Semi-supervised (``consistency``, e.g. :class:`~byol_transfer.semisup.FixMatch`): each step adds
  the method's unlabelled loss to the labelled cross-entropy; everything else (schedule, early stopping,
  the kept weights) is the same, so the two differ only in the unlabelled term.
The backbone passed in is never modified (the model trains a deep copy).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..augment.views import EvalTransform
from ..semisup.consistency import Consistency
from .train_transforms import Geometry, augment_chw, build_train_augment


@dataclass
class FinetuneSettings:
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-2  # head; with 1e-3 a few hundred steps left the head of a 10%-label run underfit
    backbone_lr_ratio: float = 0.1
    weight_decay: float = 1e-4
    patience: int = 5  # epochs without validation gain before stopping; 0: never stop early
    # An epoch is at least this many samples (the set repeated, reshuffled each time), so that 10
    # labels get as many optimiser steps per epoch as 320 do rather than a single one.
    min_epoch_samples: int = 320
    crop_scale: tuple[float, float] = (0.5, 1.0)
    eval_batch_size: int = 256


@dataclass
class FinetuneResult:
    predictions: np.ndarray
    probabilities: np.ndarray
    best_epoch: int  # 1-based; the epoch whose weights were kept
    epochs_run: int
    early_stopping: bool  # False when there was no validation data
    # means over the steps of what the semi-supervised term logged (e.g. pseudo_label_rate); empty without
    consistency_stats: dict[str, float] = field(default_factory=dict)


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def _param_groups(model: Classifier, lr: float, ratio: float, weight_decay: float) -> list[dict]:
    groups = []
    for module, group_lr in ((model.backbone, lr * ratio), (model.head, lr)):
        decay = [p for p in module.parameters() if p.requires_grad and p.ndim > 1]
        no_decay = [p for p in module.parameters() if p.requires_grad and p.ndim <= 1]
        groups += [{"params": decay, "lr": group_lr, "weight_decay": weight_decay},
                   {"params": no_decay, "lr": group_lr, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _batches(n: int, batch_size: int, min_samples: int, generator: torch.Generator) -> list[torch.Tensor]:
    repeats = max(1, math.ceil(min_samples / n))
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(repeats)])
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = torch.cat([batches[-2], batches.pop()])
    return batches


@torch.no_grad()
def _logits(model: nn.Module, images: torch.Tensor, transform: EvalTransform, device: torch.device,
            batch_size: int) -> torch.Tensor:
    model.eval()
    out = [model(transform(chunk.to(device))).float().cpu() for chunk in images.split(batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def finetune(
    backbone: nn.Module,
    num_features: int,
    transform: EvalTransform,
    train_images: torch.Tensor,
    train_labels: np.ndarray,
    val_images: torch.Tensor,
    val_labels: np.ndarray,
    test_images: torch.Tensor,
    num_classes: int,
    geometry: Geometry,
    settings: FinetuneSettings,
    seed: int,
    device: torch.device | str = "cpu",
    consistency: Callable[[Classifier], Consistency] | None = None,
) -> FinetuneResult:
    """Train on (train_images, train_labels), stop on val, predict test. Images: N×C×H×W, raw dtype.

    ``consistency`` builds the semi-supervised term for the classifier being trained (None: supervised).
    """
    device = torch.device(device)
    transform = transform.to(device)
    with torch.random.fork_rng(devices=[]):  # the head's init is seeded without touching global RNG
        torch.manual_seed(seed)
        model = Classifier(copy.deepcopy(backbone), num_features, num_classes).to(device)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.1
    optimizer = torch.optim.AdamW(_param_groups(model, settings.lr, settings.backbone_lr_ratio,
                                                settings.weight_decay))
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(_batches(len(train_images), settings.batch_size, settings.min_epoch_samples,
                                   torch.Generator()))
    total = max(1, settings.epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))
    augment = build_train_augment(train_images.shape[-1], geometry, seed, settings.crop_scale)
    unlabeled = consistency(model) if consistency is not None else None
    logged: dict[str, list[float]] = {}
    y_train = torch.as_tensor(train_labels, dtype=torch.long)
    y_val = torch.as_tensor(val_labels, dtype=torch.long)
    use_val = len(val_labels) > 0

    def validate(epoch: int) -> bool:
        """Keep the weights if they are the best on val so far; False when patience has run out."""
        nonlocal best_key, best_state, best_epoch, stale
        evaluated = unlabeled.eval_model(model) if unlabeled is not None else model
        val_logits = _logits(evaluated, val_images, transform, device, settings.eval_batch_size)
        key = (-(val_logits.argmax(1) == y_val).float().mean().item(), F.cross_entropy(val_logits, y_val).item())
        if best_key is None or key < best_key:
            best_key, best_epoch, stale = key, epoch, 0
            best_state = {k: v.detach().clone() for k, v in evaluated.state_dict().items()}
            return True
        stale += 1
        return not settings.patience or stale < settings.patience

    best_key, best_state, best_epoch, stale, epoch, step = None, None, 0, 0, 0, 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        for idx in _batches(len(train_images), settings.batch_size, settings.min_epoch_samples, generator):
            # value scaling per sample on the CPU, geometric augmentation, then normalise on device
            scaled = transform.scaling(train_images[idx])
            views = torch.stack([augment_chw(augment, image) for image in scaled]).to(device)
            if len(idx) == 1:  # a one-sample set: BN cannot use batch statistics, so use running ones
                model.eval()
            loss = F.cross_entropy(model(transform.normalize(views)), y_train[idx].to(device))
            if unlabeled is not None:
                model.train()
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
            model.train()
        if use_val and not validate(epoch):
            break
    if best_state is not None:
        model.load_state_dict(best_state, strict=True)
    else:
        best_epoch = epoch
        if unlabeled is not None:  # e.g. a teacher: the network the method evaluates is the one kept
            model.load_state_dict(unlabeled.eval_model(model).state_dict(), strict=True)
    proba = _logits(model, test_images, transform, device, settings.eval_batch_size).softmax(1).numpy()
    stats = {key: float(np.mean(values)) for key, values in logged.items()}
    return FinetuneResult(proba.argmax(1), proba, best_epoch, epoch, use_val, stats)
