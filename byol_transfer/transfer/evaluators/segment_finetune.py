"""Segmentation fine-tuning: the smp model of the cell trained on its masks (rows ``unet-finetune``,
``unet-frozen`` with a frozen encoder).

Defaults: decoder ``lr`` 1e-3, encoder 0.1× that; Dice + cross-entropy with equal weights; no early
stopping (the best epoch by validation mIoU is kept); an epoch is at least 128 samples.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import bounded
from ..finetune import Schedule
from .base import Outcome, SEGMENTATION, SegmentationCell, register



@dataclass
class SegFinetuneSettings:
    epochs: int = bounded(20, ge=1)
    batch_size: int = bounded(8, ge=1)
    lr: float = bounded(1e-3, gt=0)  # decoder; AdamW, cosine
    encoder_lr_mult: float = bounded(0.1, ge=0)  # encoder LR = lr × this
    weight_decay: float = bounded(1e-4, ge=0)
    freeze_encoder: bool = False  # decoder only: the encoder's weights and BatchNorm statistics stay fixed
    min_epoch_samples: int = bounded(128, ge=0)
    patience: int = bounded(0, ge=0)  # epochs without validation improvement before stopping; 0: never stop early
    crop_scale: list[float] = bounded(default_factory=lambda: [0.5, 1.0], length=2, gt=0, le=1)
    dice_weight: float = bounded(1.0, ge=0)
    ce_weight: float = bounded(1.0, ge=0)
    eval_batch_size: int = bounded(16, ge=1)

    def schedule(self) -> Schedule:
        return Schedule(self.epochs, self.batch_size, self.lr, self.encoder_lr_mult, self.weight_decay,
                        self.patience, self.min_epoch_samples, self.freeze_encoder)


@register(SEGMENTATION, "finetune", SegFinetuneSettings)
def evaluate_segment_finetune(cell: SegmentationCell, settings: SegFinetuneSettings) -> dict[str, Outcome]:
    task = cell.task
    model = task.build_model(cell)
    result = task.fit(cell, model, settings)
    return {task.row_name(settings.freeze_encoder, semisup=False): task.outcome(cell, model, result, settings,
                                                                                 semisup=False, n_unlabeled=0)}
