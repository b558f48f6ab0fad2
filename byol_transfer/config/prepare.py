"""The ``prepare tiles`` and ``prepare shards`` schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .data import DataSource
from .schema import MAX_IMAGE_SIZE, bounded


@dataclass
class TilesConfig:
    """GeoTIFF scenes → georeferenced GeoTIFF tiles, nodata skipped."""

    scenes: list[str] = bounded(default_factory=list, min_len=1)  # paths or URLs, or .txt files listing them
    size: Union[int, None] = bounded(None, ge=8, le=MAX_IMAGE_SIZE, note="px per side")  # required
    stride: Union[int, None] = bounded(None, ge=1)  # None: the size (no overlap)
    min_valid: float = bounded(0.9, ge=0, le=1)  # keep tiles with at least this fraction of valid pixels
    bands: Union[str, None] = None  # 1-based numbers or names (names need a card)
    card: Union[str, None] = None  # the data card whose band names ``bands`` may use
    nodata: Union[float, None] = None  # when the scene declares none


@dataclass
class ShardsConfig:
    """Any dataset the readers take → webdataset tar shards + index.json + card.yaml."""

    data: DataSource = field(default_factory=DataSource)
    shard_size: str = "1GB"  # close a shard once it holds this much: 1GB, 500MB, 256MiB or a byte count
    labeled: bool = False  # store class labels (class subfolders, npz, data.labels)
    tile: Union[int, None] = bounded(None, ge=8, le=MAX_IMAGE_SIZE, note="px per side")  # cut scenes into windows
    stride: Union[int, None] = bounded(None, ge=1)
    min_valid: Union[float, None] = bounded(None, ge=0, le=1)  # scenes: 0.9 when not given
    nodata: Union[float, None] = None
    image_size: Union[int, None] = bounded(None, ge=8, le=MAX_IMAGE_SIZE, note="px per side")  # None: native
    scaling: Union[str, None] = None  # as for stats: the value scaling the card's mean/std are expressed after
    workers: int = bounded(0, ge=0)
