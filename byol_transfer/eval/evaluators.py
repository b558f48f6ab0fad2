"""The sweep's evaluators behind one interface: a cell of the grid in, test predictions out.

Each evaluator is registered by the name used on the command line (``--evaluators knn,linear,finetune``)
and returns ``{row name: Prediction}``: k-NN gives one row name per k (``knn@20``), the others one
each. Every hyper-parameter an evaluator picks is picked on the cell's validation split and reported
in ``Prediction.selected``; the test labels are never passed in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..config import RecipeConfig
from ..errors import UserError
from ..registry import Registry
from ..semisup.fixmatch import FixMatch, FixMatchSettings
from ..semisup.pool import UnlabeledPool
from .finetune import FinetuneSettings, finetune
from .inits import Init
from .knn import knn_votes
from .linear_probe import linear_probe
from .train_transforms import Geometry

log = logging.getLogger(__name__)


@dataclass
class Prediction:
    labels: np.ndarray  # predicted class per test sample
    scores: np.ndarray | None  # N_test × num_classes probabilities (for AUROC), or None
    selected: dict[str, float] = field(default_factory=dict)


@dataclass
class Cell:
    """One (init, seed, fraction) of the grid. Indices point into the rows of ``features``/``images``."""

    init: Init
    seed: int
    num_classes: int
    train_idx: np.ndarray
    val_idx: np.ndarray
    labels: np.ndarray  # labels of the --data items
    features: torch.Tensor  # frozen features of the --data items (N × D)
    test_features: torch.Tensor
    images: Callable[[], torch.Tensor]  # raw --data images (N × C × H × W), loaded on first use
    test_images: Callable[[], torch.Tensor]
    knn_ks: tuple[int, ...] = (20,)
    knn_temperature: float = 0.07
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    geometry: Geometry = field(default_factory=Geometry)
    device: str = "cpu"
    # semi-supervised evaluators: the recipe behind the weak/strong views, and the unlabelled images
    # for a labelled subset (given its indices: by default the --data images outside it and the test split)
    recipe: RecipeConfig | None = None
    unlabeled: Callable[[np.ndarray], torch.Tensor] | None = None
    semisup: FixMatchSettings = field(default_factory=FixMatchSettings)

    @property
    def subset_idx(self) -> np.ndarray:
        return np.sort(np.concatenate([self.train_idx, self.val_idx]))


EVALUATORS: Registry[Callable[[Cell], dict[str, Prediction]]] = Registry("evaluator")


@EVALUATORS.register("knn")
def evaluate_knn(cell: Cell) -> dict[str, Prediction]:
    # nothing to select: k and T are fixed, so all labelled samples are neighbours
    idx = torch.as_tensor(cell.subset_idx)
    votes = knn_votes(cell.features[idx], torch.as_tensor(cell.labels)[idx], cell.test_features,
                      ks=cell.knn_ks, temperature=cell.knn_temperature, num_classes=cell.num_classes)
    return {
        f"knn@{k}": Prediction(v.argmax(1).numpy(), v.numpy(), {"k": k, "temperature": cell.knn_temperature})
        for k, v in votes.items()
    }


@EVALUATORS.register("linear")
def evaluate_linear(cell: Cell) -> dict[str, Prediction]:
    features = cell.features.numpy()
    result = linear_probe(
        features[cell.train_idx], cell.labels[cell.train_idx],
        features[cell.val_idx], cell.labels[cell.val_idx],
        cell.test_features.numpy(), cell.num_classes,
    )
    return {"linear": Prediction(result.predictions, result.probabilities,
                                 {"C": result.C, "selected_on_validation": float(result.selected_on_validation)})}


@EVALUATORS.register("finetune")
def evaluate_finetune(cell: Cell) -> dict[str, Prediction]:
    images = cell.images()
    result = finetune(
        cell.init.backbone, cell.init.num_features, cell.init.transform,
        images[torch.as_tensor(cell.train_idx)], cell.labels[cell.train_idx],
        images[torch.as_tensor(cell.val_idx)], cell.labels[cell.val_idx],
        cell.test_images(), cell.num_classes, cell.geometry, cell.finetune, cell.seed, cell.device,
    )
    return {"finetune": Prediction(result.predictions, result.probabilities,
                                   {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                                    "early_stopping": float(result.early_stopping)})}


@EVALUATORS.register("semisup")
def evaluate_semisup(cell: Cell) -> dict[str, Prediction]:
    """Fine-tuning as ``finetune`` (same settings, seed and early stopping) plus FixMatch on the pool."""
    if cell.recipe is None:
        raise UserError("the semisup evaluator builds its weak/strong views from a recipe: pass --recipe "
                        "(or use an export whose sidecar names one)")
    pool_images = cell.unlabeled(cell.subset_idx) if cell.unlabeled is not None else torch.empty(0)
    images = cell.images()
    consistency = None
    if len(pool_images):
        def consistency(model: torch.nn.Module) -> FixMatch:
            return FixMatch(UnlabeledPool(pool_images, cell.seed), cell.recipe, cell.init.transform,
                            cell.finetune.batch_size, cell.semisup, cell.device)
    else:
        log.warning("seed %d: no unlabelled images outside the %d labelled ones; semisup is plain fine-tuning",
                    cell.seed, len(cell.subset_idx))
    device = torch.device(cell.device)
    # Kornia draws view parameters from the global RNG: seed it per cell, and leave the caller's as it was
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cell.seed)
        result = finetune(
            cell.init.backbone, cell.init.num_features, cell.init.transform,
            images[torch.as_tensor(cell.train_idx)], cell.labels[cell.train_idx],
            images[torch.as_tensor(cell.val_idx)], cell.labels[cell.val_idx],
            cell.test_images(), cell.num_classes, cell.geometry, cell.finetune, cell.seed, cell.device,
            consistency=consistency,
        )
    selected = {"best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                "early_stopping": float(result.early_stopping), "unlabeled_images": float(len(pool_images)),
                "threshold": cell.semisup.threshold, "mu": float(cell.semisup.mu), "weight": cell.semisup.weight,
                **result.consistency_stats}
    return {"semisup": Prediction(result.predictions, result.probabilities, selected)}
