"""Semi-supervised segmentation (mean teacher): ``finetune`` with the same settings and start, plus a
teacher that follows the student by EMA and gives per-pixel pseudo-labels on unlabelled tiles; the
teacher is validated and kept (rows ``unet-semisup``, models in models/<init>-semisup/).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from ...errors import UserError
from ...semisup.mean_teacher import MeanTeacher, MeanTeacherSettings
from ...semisup.pool import UnlabeledPool
from .base import SEGMENTATION, Outcome, SegmentationCell, register
from .segment_finetune import SegFinetuneSettings


log = logging.getLogger(__name__)


@dataclass
class SegSemisupSettings:
    teacher: MeanTeacherSettings = field(default_factory=MeanTeacherSettings)
    train: SegFinetuneSettings = field(default_factory=SegFinetuneSettings)  # the supervised part


def check_segment_semisup(task: Any, settings: SegSemisupSettings) -> None:
    settings.teacher.check()
    if task.recipe is None:
        raise UserError("semi-supervised segmentation builds its strong view from a recipe: pass --recipe")
    shape, want = task.unlabeled.shape[1:] if task.unlabeled is not None else None, task.data.images.shape[1:]
    if shape is not None and tuple(shape) != tuple(want):
        raise UserError(f"unlabelled images are {tuple(shape)} (channels, height, width), "
                        f"the training images {tuple(want)}; use the same --image-size")


@register(SEGMENTATION, "semisup", SegSemisupSettings, check=check_segment_semisup)
def evaluate_segment_semisup(cell: SegmentationCell, settings: SegSemisupSettings) -> dict[str, Outcome]:
    task, train, teacher = cell.task, settings.train, settings.teacher
    model = task.build_model(cell)
    pool = task.pool(cell)
    consistency = None
    if len(pool):
        def consistency(student: torch.nn.Module) -> MeanTeacher:
            return MeanTeacher(student, UnlabeledPool(pool, cell.seed), task.recipe, cell.init.transform,
                               task.num_classes, train.batch_size, teacher, cell.device)
    else:
        log.warning("seed %d, %g: no unlabelled tiles outside the labelled ones; semisup is plain fine-tuning",
                    cell.seed, cell.fraction)
    result = task.fit(cell, model, train, consistency)
    return {task.row_name(train.freeze_encoder, semisup=True): task.outcome(cell, model, result, train,
                                                                             semisup=True, n_unlabeled=len(pool))}
