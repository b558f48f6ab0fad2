"""FixMatch (Sohn et al. 2020) for classification fine-tuning.

Per optimiser step, besides the labelled batch of B images: μ·B unlabelled images are drawn from the
pool; the model (in training mode, no gradients) predicts the weak view, and where its confidence
reaches ``threshold`` the argmax becomes the pseudo-label the strong view is trained towards, with weight
λ. The weak and strong passes are separate forward calls, so BatchNorm sees each view's own statistics
and no backward pass is spent on the weak view (the reference implementation concatenates all three
batches; separate passes give the same objective at two thirds of the backward cost). The strong pass
does not update BatchNorm's running statistics (``batchnorm.py``): evaluation uses them, and they should
describe test-like images, not colour-jittered ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..augment.views import EvalTransform
from ..config import RecipeConfig
from .batchnorm import running_stats_frozen
from .consistency import check_unlabelled_term
from .losses import fixmatch_loss
from .pool import UnlabeledBatches, UnlabeledPool
from .views import WeakStrongViews


@dataclass
class FixMatchSettings:
    threshold: float = 0.95  # FixMatch's τ: pseudo-labels only from confident weak-view predictions
    mu: int = 7  # unlabelled images per labelled image in a step
    weight: float = 1.0  # λ_u
    # lists, not tuples: plain values a config file can hold (the evaluator settings are built with from_dict)
    weak_crop_scale: list[float] = field(default_factory=lambda: [0.5, 1.0])  # as the supervised fine-tuning crop
    strong_crop_scale: list[float] | None = field(default_factory=lambda: [0.25, 1.0])  # None: the recipe's own
    strong_view: str = "view1"

    def check(self) -> None:
        check_unlabelled_term(self.threshold, self.mu, self.weight, "image")


class FixMatch:
    """The :class:`~byol_transfer.semisup.consistency.Consistency` FixMatch adds to ``finetune``."""

    def __init__(self, pool: UnlabeledPool, recipe: RecipeConfig, transform: EvalTransform, batch_size: int,
                 settings: FixMatchSettings, device: torch.device | str = "cpu") -> None:
        settings.check()
        self.settings = settings
        self.batches = UnlabeledBatches(pool, settings.mu, batch_size, device)
        images = pool.images
        self.views = WeakStrongViews(recipe, transform, int(images.shape[-1]), int(images.shape[1]), images.dtype,
                                     settings.weak_crop_scale, settings.strong_crop_scale,
                                     settings.strong_view).to(self.batches.device)

    def loss(self, model: nn.Module, step: int, total_steps: int) -> tuple[torch.Tensor, dict[str, float]]:
        weak, strong = self.views(self.batches.next())
        with torch.no_grad():
            weak_logits = model(weak)
        with running_stats_frozen(model):
            strong_logits = model(strong)
        loss, mask = fixmatch_loss(weak_logits, strong_logits, self.settings.threshold)
        return self.settings.weight * loss, {"pseudo_label_rate": float(mask.mean())}

    def after_step(self, model: nn.Module) -> None:
        pass

    def eval_model(self, model: nn.Module) -> nn.Module:
        return model
