"""Segmentation fine-tuning: the smp model of the cell trained on its masks (rows ``unet-finetune``,
``unet-frozen`` with a frozen encoder).

Defaults: decoder ``lr`` 1e-3, encoder 0.1× that; Dice + cross-entropy with equal weights; no early
stopping (the best epoch by validation mIoU is kept); an epoch is at least 128 samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..finetune import Schedule
from .base import Outcome, SEGMENTATION, SegmentationCell, register



@dataclass
class SegFinetuneSettings:
    epochs: int = 20
    batch_size: int = 8
    lr: float = 1e-3
    encoder_lr_mult: float = 0.1
    weight_decay: float = 1e-4
    freeze_encoder: bool = False  # decoder only: the encoder's weights and BatchNorm statistics stay fixed
    min_epoch_samples: int = 128
    patience: int = 0  # epochs without validation improvement before stopping; 0: never stop early
    crop_scale: list[float] = field(default_factory=lambda: [0.5, 1.0])
    dice_weight: float = 1.0
    ce_weight: float = 1.0
    eval_batch_size: int = 16

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
