"""Semi-supervised fine-tuning (FixMatch): ``finetune`` with the same settings, seed and early stopping,
plus FixMatch's pseudo-label loss on the unlabelled pool of the cell.

The pool is the task's (``--unlabeled-data``, else the --data images outside the labelled subset and
the test split). Kornia draws the views' parameters from the global RNG: it is seeded per cell, and the
caller's RNG is left as it was, so a cell gives the same result wherever it runs in the grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from ...errors import UserError
from ...semisup.fixmatch import FixMatch, FixMatchSettings
from ...semisup.pool import UnlabeledPool
from .base import CLASSIFICATION, ClassificationCell, Outcome, register
from .finetune import FinetuneSettings, selected_values


log = logging.getLogger(__name__)


@dataclass
class SemisupSettings:
    fixmatch: FixMatchSettings = field(default_factory=FixMatchSettings)
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)  # the supervised part, as `finetune`'s


def check_semisup(task: Any, settings: SemisupSettings) -> None:
    settings.fixmatch.check()
    if task.recipe is None:
        raise UserError("the semisup evaluator builds its weak/strong views from a recipe: pass --recipe "
                        "(or use an export whose sidecar names one)")
    in_chans = getattr(task.unlabeled, "in_chans", task.data.in_chans)
    if task.unlabeled is not None and in_chans != task.data.in_chans:
        raise UserError(f"the unlabelled data have {in_chans} channel(s), the training data {task.data.in_chans}")


@register(CLASSIFICATION, "semisup", SemisupSettings, check=check_semisup)
def evaluate_semisup(cell: ClassificationCell, settings: SemisupSettings) -> dict[str, Outcome]:
    if not cell.init.trainable:  # channel-stats: nothing to fine-tune (see evaluators/finetune.py)
        return {}
    task, fixmatch, finetune = cell.task, settings.fixmatch, settings.finetune
    pool_images = task.unlabeled_images(cell.subset_idx)
    consistency = None
    if len(pool_images):
        def consistency(model: torch.nn.Module) -> FixMatch:
            return FixMatch(UnlabeledPool(pool_images, cell.seed), task.recipe, cell.init.transform,
                            finetune.batch_size, fixmatch, cell.device)
    else:
        log.warning("seed %d: no unlabelled images outside the %d labelled ones; semisup is plain fine-tuning",
                    cell.seed, len(cell.subset_idx))
    device = torch.device(cell.device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cell.seed)
        proba, result = task.fit(cell, finetune, consistency)
    selected = {**selected_values(result), "unlabeled_images": float(len(pool_images)),
                "threshold": fixmatch.threshold, "mu": float(fixmatch.mu), "weight": fixmatch.weight,
                **result.consistency_stats}
    return {"semisup": Outcome(task.score(proba.argmax(1), proba), selected)}
