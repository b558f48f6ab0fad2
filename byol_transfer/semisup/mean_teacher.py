"""Mean teacher (Tarvainen & Valpola 2017) with confidence-masked pseudo-labels, for segmentation.

The teacher is a deep copy of the student that never receives gradients and follows it by EMA after
every optimiser step (``models.ema.ema_update_``, the BYOL target update; BatchNorm statistics are
copied). Per step, ``mu``·B unlabelled tiles are drawn; the teacher predicts each whole tile (no
augmentation, evaluation mode), the tile and the teacher's probabilities are warped *together* by the
recipe's geometric ops, the image alone gets the photometric ops, and the student is trained with
cross-entropy towards the warped argmax on pixels where the teacher's probability reaches ``threshold``.
The weight ramps up with a sigmoid over the first ``rampup`` fraction of steps, while the teacher is
still mostly the starting point. The teacher's EMA uses τ = min(ema, (1+k)/(10+k)) so that it tracks
the student closely in the first steps rather than averaging in the untrained head.

Validation, model selection and the kept weights are the teacher's (the paper's evaluated model). The
teacher copies the student's BatchNorm running statistics and is evaluated with them, so they must
describe test-like tiles: a gradient-free student pass over the unlabelled tiles as the teacher sees them
updates them (with the labelled batches), the strong pass does not (``batchnorm.py``). Without the former
they would come from the few labelled tiles alone; with the latter, from colour-jittered ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from ..augment.views import EvalTransform
from ..config import RecipeConfig
from ..errors import UserError
from ..models.ema import ema_update_
from .batchnorm import running_stats_frozen
from .consistency import check_unlabelled_term
from .losses import confident_target_loss, sigmoid_rampup
from .pool import UnlabeledBatches, UnlabeledPool
from .views import AlignedStrongView


@dataclass
class MeanTeacherSettings:
    threshold: float = 0.95  # per-pixel teacher confidence needed for a pseudo-label
    mu: int = 1  # unlabelled tiles per labelled tile in a step
    weight: float = 1.0
    ema: float = 0.99  # teacher EMA decay (after the warm-up τ = (1+k)/(10+k))
    rampup: float = 0.1  # fraction of the steps over which the weight ramps up (0: none)
    crop_scale: list[float] | None = field(default_factory=lambda: [0.25, 1.0])  # the strong view's crop (None: the recipe's)
    strong_view: str = "view1"

    def check(self) -> None:
        check_unlabelled_term(self.threshold, self.mu, self.weight, "tile")
        if not 0.0 <= self.ema < 1.0:
            raise UserError(f"teacher EMA must lie in [0, 1), got {self.ema}")
        if not 0.0 <= self.rampup <= 1.0:
            raise UserError(f"semi-supervised ramp-up must be a fraction of the steps in [0, 1], got {self.rampup}")


def teacher_tau(step: int, ema: float) -> float:
    """The teacher's EMA decay after ``step`` optimiser steps (0-based): (1+k)/(10+k), capped at ``ema``."""
    return min(ema, (1.0 + step) / (10.0 + step))


class MeanTeacher:
    """The :class:`~byol_transfer.semisup.consistency.Consistency` mean teacher adds to ``train_segmentation``."""

    def __init__(self, student: nn.Module, pool: UnlabeledPool, recipe: RecipeConfig, transform: EvalTransform,
                 num_classes: int, batch_size: int, settings: MeanTeacherSettings,
                 device: torch.device | str = "cpu") -> None:
        settings.check()
        self.settings = settings
        self.batches = UnlabeledBatches(pool, settings.mu, batch_size, device)
        images = pool.images
        self.teacher = copy.deepcopy(student).to(self.batches.device)
        self.teacher.requires_grad_(False)
        self.teacher.eval()
        self.steps = 0
        self.view = AlignedStrongView(recipe, transform, int(images.shape[-1]), int(images.shape[1]), num_classes,
                                      images.dtype, settings.crop_scale, settings.strong_view).to(self.batches.device)

    def loss(self, model: nn.Module, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        raw = self.batches.next()
        with torch.no_grad():
            teacher_input = self.view.teacher_input(raw)
            probabilities = self.teacher(teacher_input).float().softmax(1)
        student_input, target = self.view(raw, probabilities)
        with torch.no_grad():  # BatchNorm running statistics from the unlabelled tiles as evaluation sees them
            model(teacher_input)
        with running_stats_frozen(model):  # ... and not from their strong views
            student_logits = model(student_input)
        loss, mask = confident_target_loss(student_logits, target, self.settings.threshold)
        ramp = sigmoid_rampup(step, round(self.settings.rampup * total_steps))
        return self.settings.weight * ramp * loss, {"pseudo_label_rate": float(mask.mean())}

    def after_step(self, model: nn.Module) -> None:
        ema_update_(self.teacher, model, teacher_tau(self.steps, self.settings.ema))
        self.steps += 1

    def eval_model(self, model: nn.Module) -> nn.Module:
        return self.teacher
