"""The sweep's evaluators, one module each, registered by the name used on the command line.

Classification (:data:`CLASSIFICATION`): ``knn``, ``linear`` (frozen features), ``finetune`` and
``semisup`` (FixMatch). Segmentation (:data:`SEGMENTATION`): ``finetune`` and ``semisup`` (mean teacher),
whose rows are named after the smp architecture (``unet-finetune``, ``unet-semisup``).
"""

from . import finetune, knn, linear, segment_finetune, segment_semisup, semisup  # noqa: F401  (they register)
from .base import CLASSIFICATION, SEGMENTATION, Evaluator, Outcome, register, resolve

__all__ = ["CLASSIFICATION", "SEGMENTATION", "Evaluator", "Outcome", "register", "resolve"]
