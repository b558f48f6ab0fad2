"""The ``stats`` schema: per-band statistics of a dataset (mean, std, p1, p99) → stats.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .data import DataSource
from .schema import MAX_IMAGE_SIZE, bounded


@dataclass
class StatsConfig:
    data: DataSource = field(default_factory=DataSource)
    # the value scaling mean/std are expressed after: auto, none, divide:10000, ct_window:CENTER,WIDTH or
    # percentile_clip; None: the card's, else auto
    scaling: Union[str, None] = None
    tile_size: Union[int, None] = bounded(None, ge=8, le=MAX_IMAGE_SIZE, note="px per side")  # GeoTIFF scenes
    stride: Union[int, None] = bounded(None, ge=1)  # window stride for scenes; None: the tile size
    min_valid: Union[float, None] = bounded(None, ge=0, le=1)  # drop tiles/windows with fewer valid pixels
    max_images: Union[int, None] = bounded(None, ge=1)  # a seeded random subset of this many images
    workers: int = bounded(0, ge=0)  # DataLoader workers
    mask_suffix: Union[str, None] = None  # images/ + masks/ folders: what mask names add to the image stem
