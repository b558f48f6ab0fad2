"""Fine-tuning: a copy of the backbone plus a linear head, trained end to end on the cell's subset.

Defaults: the new head gets ``lr`` 1e-2 (with 1e-3 a few hundred steps left the head of a 10%-label
run underfit), the backbone 0.1× that; early stopping on validation accuracy with patience 5; an
epoch is at least 320 samples. The loop itself is ``transfer/finetune.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import bounded
from ..finetune import LoopResult, Schedule
from .base import CLASSIFICATION, ClassificationCell, Outcome, register



@dataclass
class FinetuneSettings:
    epochs: int = bounded(30, ge=1)
    batch_size: int = bounded(32, ge=1)
    lr: float = bounded(1e-2, gt=0)  # head
    backbone_lr_ratio: float = bounded(0.1, ge=0)
    weight_decay: float = bounded(1e-4, ge=0)
    patience: int = bounded(5, ge=0)  # epochs without validation gain before stopping; 0: never stop early
    # An epoch is at least this many samples (the set repeated, reshuffled each time), so that 10
    # labels get as many optimiser steps per epoch as 320 do rather than a single one.
    min_epoch_samples: int = bounded(320, ge=0)
    crop_scale: list[float] = bounded(default_factory=lambda: [0.5, 1.0], length=2, gt=0, le=1)
    eval_batch_size: int = bounded(256, ge=1)

    def schedule(self) -> Schedule:
        return Schedule(self.epochs, self.batch_size, self.lr, self.backbone_lr_ratio, self.weight_decay,
                        self.patience, self.min_epoch_samples)


def selected_values(result: LoopResult) -> dict[str, float]:
    return {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
            "early_stopping": float(result.validated)}


@register(CLASSIFICATION, "finetune", FinetuneSettings)
def evaluate_finetune(cell: ClassificationCell, settings: FinetuneSettings) -> dict[str, Outcome]:
    if not cell.init.trainable:  # channel-stats: no network to fine-tune, so no row (the command says so once)
        return {}
    proba, result = cell.task.fit(cell, settings)
    return {"finetune": Outcome(cell.task.score(proba.argmax(1), proba), selected_values(result))}
