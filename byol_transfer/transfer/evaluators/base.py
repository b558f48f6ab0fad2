"""What an evaluator is: a settings dataclass of its own and a function from one grid cell to results.

An evaluator gets the cell's context (the task with its data, the init, the labelled indices, the seed:
:class:`ClassificationCell`, :class:`SegmentationCell`) and its settings, and returns
``{row name: Outcome}``: one row name for most, several for k-NN (one per k). Every hyper-parameter it picks is picked on the cell's
validation split and reported in ``Outcome.selected``; the test labels never reach it (the task scores).

Each task has its own registry (:data:`CLASSIFICATION`, :data:`SEGMENTATION`): an evaluator is written
against one task's cell. Adding one is a module with its settings class and a :func:`register` call,
plus its import in ``evaluators/__init__.py`` (or in the user's own module, before the sweep runs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ...config import from_dict
from ...errors import UserError
from ...registry import Registry
from ..inits import Init


@dataclass
class Outcome:
    """One result row group of a cell: test metrics, and what was chosen on validation."""

    metrics: dict[str, float]  # one results.csv row each
    selected: dict[str, float] = field(default_factory=dict)  # selected.csv (classification)
    model: Any = None  # the trained model, when the task keeps models (segmentation: models/)
    record: dict[str, Any] = field(default_factory=dict)  # what run.json records about the cell
    # per-image test predictions (transfer/predictions.py); classification fills them in from its
    # scoring when an evaluator leaves them empty
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluator:
    name: str
    settings: type  # a dataclass; its defaults are the evaluator's defaults
    run: Callable[[Any, Any], dict[str, Outcome]]  # (cell, settings) → {row name: outcome}
    check: Callable[[Any, Any], None] | None = None  # (task, settings): refuse before any work is done

    def settings_from(self, raw: Any, where: str) -> Any:
        """The evaluator's settings from None (defaults), an instance, or a mapping (strict, dotted keys)."""
        if raw is None:
            return self.settings()
        if isinstance(raw, self.settings):
            return raw
        if isinstance(raw, Mapping):
            return from_dict(self.settings, dict(raw), where, prefix=f"evaluators.{self.name}.")
        raise UserError(f"{where}: settings of evaluator {self.name!r} must be a mapping, got {type(raw).__name__}")


@dataclass
class ClassificationCell:
    """What a classification evaluator gets for one (init, seed, fraction); indices point into the data."""

    task: Any  # the ClassificationTask: its data, test split, images, pool and scoring
    init: Init
    features: torch.Tensor  # frozen features of the --data items (N × D)
    test_features: torch.Tensor
    seed: int
    fraction: float
    train_idx: np.ndarray
    val_idx: np.ndarray

    @property
    def subset_idx(self) -> np.ndarray:
        return np.sort(np.concatenate([self.train_idx, self.val_idx]))

    @property
    def labels(self) -> np.ndarray:
        return self.task.data.labels

    @property
    def num_classes(self) -> int:
        return len(self.task.data.classes)

    @property
    def device(self) -> str:
        return self.task.device


@dataclass
class SegmentationCell:
    """What a segmentation evaluator gets for one (init, seed, fraction); indices point into the data."""

    task: Any  # the SegmentationTask: its data, model building, training and scoring
    init: Init
    seed: int
    fraction: float
    train_idx: torch.Tensor
    val_idx: torch.Tensor

    @property
    def device(self) -> str:
        return self.task.device


CLASSIFICATION: Registry[Evaluator] = Registry("evaluator")
SEGMENTATION: Registry[Evaluator] = Registry("segmentation evaluator")


def register(registry: Registry[Evaluator], name: str, settings: type,
             check: Callable[[Any, Any], None] | None = None) -> Callable:
    """Decorator: ``@register(CLASSIFICATION, "knn", KnnSettings)`` over ``def run(cell, settings)``."""
    if not dataclasses.is_dataclass(settings):
        raise TypeError(f"evaluator {name!r}: its settings must be a dataclass, got {settings!r}")

    def add(run: Callable[[Any, Any], dict[str, Outcome]]) -> Callable[[Any, Any], dict[str, Outcome]]:
        registry.register(name)(Evaluator(name, settings, run, check))
        return run

    return add


def resolve(registry: Registry[Evaluator], chosen: Any, where: str = "evaluators") -> list[tuple[Evaluator, Any]]:
    """``[(evaluator, settings)]`` in run order from names or ``{name: settings or None}``.

    Unknown names fail here (a :class:`UserError` naming them), before any work.
    """
    items = chosen.items() if isinstance(chosen, Mapping) else ((name, None) for name in chosen)
    resolved, seen = [], set()
    for name, raw in items:
        if name in seen:
            continue
        seen.add(name)
        evaluator = registry.get(name)
        resolved.append((evaluator, evaluator.settings_from(raw, where)))
    return resolved
