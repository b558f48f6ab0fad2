"""The ``preview`` schema: a grid of images and their two augmented views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .schema import MAX_IMAGE_SIZE, bounded


@dataclass
class PreviewConfig:
    recipe: str = ""  # recipe name, recipe YAML or run config.yaml
    data: str = ""
    card: Union[str, None] = None  # supplies scaling and stats; None: detected
    n: int = bounded(8, ge=1)  # images (rows)
    rgb_bands: Union[str, None] = None  # shown as red,green,blue: 1-based numbers or names; one band: grey
    image_size: Union[int, None] = bounded(None, ge=8, le=MAX_IMAGE_SIZE, note="px per side")
    seed: int = bounded(0, ge=0)
