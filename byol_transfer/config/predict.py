"""The ``predict`` schema: masks for new images with a model trained by ``segment``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .schema import bounded, device_problem


@dataclass
class PredictConfig:
    model: str = ""  # a model folder (model.safetensors + model.json) or a segment --out folder holding one
    data: str = ""  # an image file or a folder of images
    bands: Union[str, None] = None  # bands of the new images to feed, as at training: "4,3,2" or names
    overlap: float = bounded(0.25, ge=0, lt=1)  # between neighbouring tiles, as a fraction of the tile size
    batch_size: int = bounded(8, ge=1)  # tiles per forward pass
    device: str = bounded("auto", check=device_problem)
    skip_bad: bool = False  # skip unreadable or damaged images (counted; no mask written for them)
