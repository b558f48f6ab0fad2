"""Fine-tuning an smp model on image/mask pairs, and IoU/Dice with ``smp.metrics``.

Choices:
- Inputs: raw images (any band count and dtype) → the init's value scaling (per batch, on the CPU) →
  albumentations geometric ops applied jointly to image (float32, H×W×C, any channel count) and mask
  (nearest neighbour) → normalisation on the device. Which flips/rotations are allowed comes from the
  pretraining recipe, as for classification fine-tuning (``eval/train_transforms.py``).
- Loss: Dice + cross-entropy (``smp.losses``), multiclass (binary data are 2 classes).
- AdamW with cosine decay; the encoder gets ``lr × encoder_lr_mult``, no weight decay on biases/norms.
- ``freeze_encoder``: encoder parameters get no gradient *and* the encoder stays in eval mode, so its
  BatchNorm running statistics do not move either; the weights and buffers are compared after training.
- Small subsets: an epoch is at least ``min_epoch_samples`` samples (the subset repeated, reshuffled),
  so 10 masks get as many optimiser steps per epoch as 128 do.
- Model selection: mean IoU on the validation split after each epoch (ties: lower validation loss);
  the best epoch's weights are kept. Without validation data, the last epoch's.
- Semi-supervised (``consistency``, e.g. :class:`~byol_transfer.semisup.MeanTeacher`): each step adds the
  method's unlabelled loss, and the network it names (the EMA teacher) is the one validated and kept.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network call at import

import albumentations as A  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from ..augment.views import EvalTransform  # noqa: E402
from ..eval.train_transforms import Geometry, build_train_augment  # noqa: E402
from ..semisup.consistency import Consistency  # noqa: E402
from .smp_transfer import encoder_module  # noqa: E402


@dataclass
class SegTrainSettings:
    epochs: int = 20
    batch_size: int = 8
    lr: float = 1e-3
    encoder_lr_mult: float = 0.1
    weight_decay: float = 1e-4
    freeze_encoder: bool = False
    min_epoch_samples: int = 128
    patience: int = 0  # epochs without validation improvement before stopping; 0: never stop early
    crop_scale: tuple[float, float] = (0.5, 1.0)
    dice_weight: float = 1.0
    ce_weight: float = 1.0
    eval_batch_size: int = 16


@dataclass
class SegTrainResult:
    best_epoch: int  # 1-based: the epoch whose weights the model now holds
    epochs_run: int
    val_miou: float  # NaN without validation data
    history: list[dict[str, float]] = field(default_factory=list)
    consistency_stats: dict[str, float] = field(default_factory=dict)  # means over steps (semi-supervised)


# --------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------


def confusion_counts(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-class (tp, fp, fn, tn) pixel counts summed over the batch: a 4 × num_classes tensor."""
    import segmentation_models_pytorch as smp

    tp, fp, fn, tn = smp.metrics.get_stats(pred.long(), target.long(), mode="multiclass", num_classes=num_classes)
    return torch.stack([tp.sum(0), fp.sum(0), fn.sum(0), tn.sum(0)])


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


# --------------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------------


def freeze_encoder(model: nn.Module) -> None:
    for p in model.encoder.parameters():
        p.requires_grad_(False)


def set_train_mode(model: nn.Module, frozen_encoder: bool) -> None:
    """``model.train()``, except a frozen encoder stays in eval mode (BN statistics do not move)."""
    model.train()
    if frozen_encoder:
        model.encoder.eval()


def param_groups(model: nn.Module, lr: float, encoder_lr_mult: float, weight_decay: float) -> list[dict]:
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for p in model.parameters():
        if p.requires_grad:
            groups.setdefault((id(p) in encoder_ids, p.ndim > 1), []).append(p)
    return [{"params": params, "lr": lr * (encoder_lr_mult if is_encoder else 1.0),
             "weight_decay": weight_decay if decay else 0.0}
            for (is_encoder, decay), params in groups.items()]


class DiceCELoss(nn.Module):
    """``dice_weight`` · Dice + ``ce_weight`` · cross-entropy, both from ``smp.losses`` (multiclass)."""

    def __init__(self, dice_weight: float = 1.0, ce_weight: float = 1.0) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        self.dice = smp.losses.DiceLoss("multiclass", from_logits=True)
        self.ce = smp.losses.SoftCrossEntropyLoss(smooth_factor=0.0)
        self.dice_weight, self.ce_weight = dice_weight, ce_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.dice_weight * self.dice(logits, target) + self.ce_weight * self.ce(logits, target)


def _batches(n: int, batch_size: int, min_samples: int, generator: torch.Generator) -> list[torch.Tensor]:
    repeats = max(1, math.ceil(min_samples / n))
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(repeats)])
    batches = list(order.split(batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:  # never a one-sample batch (BN batch statistics)
        last = batches.pop()  # popped first: indexing [-2] after the pop would pick the wrong batch
        batches[-1] = torch.cat([batches[-1], last])
    return batches


def augment_pair(augment: A.Compose, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """C×H×W float image + H×W mask → the same geometric change applied to both."""
    out = augment(image=np.ascontiguousarray(image.numpy().transpose(1, 2, 0)),
                  mask=mask.numpy().astype(np.int32))
    return (torch.from_numpy(np.ascontiguousarray(out["image"].transpose(2, 0, 1))),
            torch.from_numpy(np.ascontiguousarray(out["mask"])).long())


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, transform: EvalTransform,
             num_classes: int, device: torch.device | str = "cpu", batch_size: int = 16,
             loss_fn: nn.Module | None = None) -> tuple[torch.Tensor, float]:
    """(4 × num_classes confusion counts, mean loss) of the model's argmax on raw ``images``."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    counts = torch.zeros(4, num_classes, dtype=torch.long)
    total_loss, n = 0.0, 0
    for chunk, target in zip(images.split(batch_size), masks.split(batch_size)):
        logits = model(transform(chunk.to(device))).float()
        target = target.to(device)
        if loss_fn is not None:
            total_loss += float(loss_fn(logits, target)) * len(chunk)
            n += len(chunk)
        counts += confusion_counts(logits.argmax(1).cpu(), target.cpu(), num_classes)
    model.train(was_training)
    return counts, (total_loss / n if n else float("nan"))


def train_segmentation(
    model: nn.Module,
    transform: EvalTransform,
    train_images: torch.Tensor,
    train_masks: torch.Tensor,
    val_images: torch.Tensor,
    val_masks: torch.Tensor,
    class_names: Sequence[str],
    geometry: Geometry,
    settings: SegTrainSettings,
    seed: int,
    device: torch.device | str = "cpu",
    consistency: Callable[[nn.Module], Consistency] | None = None,
) -> SegTrainResult:
    """Fine-tune ``model`` in place; it ends holding the best epoch's weights (by validation mIoU).

    Images are raw N×C×H×W tensors (any dtype), masks N×H×W class indices. ``consistency`` builds the
    semi-supervised term for the model (None: supervised only); with a teacher, the model ends holding
    the best epoch's *teacher* weights.
    """
    device = torch.device(device)
    num_classes = len(class_names)
    model.to(device)
    transform = transform.to(device)
    cpu_scaling = copy.deepcopy(transform.scaling).cpu()  # scaling happens before the CPU augmentation
    frozen = settings.freeze_encoder
    if frozen:
        freeze_encoder(model)
        snapshot = {k: v.detach().clone() for k, v in encoder_module(model).state_dict().items()}
    loss_fn = DiceCELoss(settings.dice_weight, settings.ce_weight)
    optimizer = torch.optim.AdamW(param_groups(model, settings.lr, settings.encoder_lr_mult, settings.weight_decay))
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = len(_batches(len(train_images), settings.batch_size, settings.min_epoch_samples,
                                   torch.Generator()))
    total = max(1, settings.epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total)))
    augment = build_train_augment(train_images.shape[-1], geometry, seed, settings.crop_scale)
    use_val = len(val_images) > 0
    unlabeled = consistency(model) if consistency is not None else None
    logged: dict[str, list[float]] = {}
    step = 0

    history: list[dict[str, float]] = []
    best_key, best_state, best_epoch, best_miou, stale, epoch = None, None, 0, float("nan"), 0, 0
    for epoch in range(1, settings.epochs + 1):
        set_train_mode(model, frozen)
        losses = []
        for idx in _batches(len(train_images), settings.batch_size, settings.min_epoch_samples, generator):
            scaled = cpu_scaling(train_images[idx])
            pairs = [augment_pair(augment, image, mask) for image, mask in zip(scaled, train_masks[idx])]
            x = transform.normalize(torch.stack([p[0] for p in pairs]).to(device))
            y = torch.stack([p[1] for p in pairs]).to(device)
            if len(idx) == 1:  # a one-image training set: BN uses running statistics
                model.eval()
            loss = loss_fn(model(x), y)
            if unlabeled is not None:
                set_train_mode(model, frozen)
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
            set_train_mode(model, frozen)
            losses.append(loss.item())
        record = {"epoch": float(epoch), "train_loss": float(np.mean(losses))}
        if use_val:
            selected = unlabeled.eval_model(model) if unlabeled is not None else model
            counts, val_loss = evaluate(selected, val_images, val_masks, transform, num_classes, device,
                                        settings.eval_batch_size, loss_fn)
            miou = metrics_from_counts(counts, class_names)["mIoU"]
            record.update(val_loss=val_loss, val_mIoU=miou)
            key = (-(miou if not math.isnan(miou) else -1.0), val_loss)
            if best_key is None or key < best_key:
                best_key, best_epoch, best_miou, stale = key, epoch, miou, 0
                best_state = {k: v.detach().clone() for k, v in selected.state_dict().items()}
            else:
                stale += 1
        history.append(record)
        if use_val and settings.patience and stale >= settings.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state, strict=True)
    else:
        best_epoch = epoch
        if unlabeled is not None:
            model.load_state_dict(unlabeled.eval_model(model).state_dict(), strict=True)
    model.eval()
    if frozen:
        after = encoder_module(model).state_dict()
        changed = [k for k, v in snapshot.items() if not torch.equal(after[k], v)]
        if changed:
            raise RuntimeError(f"the frozen encoder changed during training: {', '.join(changed[:5])}")
    stats = {key: float(np.mean(values)) for key, values in logged.items()}
    return SegTrainResult(best_epoch, epoch, best_miou, history, stats)
