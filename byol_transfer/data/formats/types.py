"""What a format reader returns: a header (:class:`ImageInfo`) or pixels (:class:`Decoded`).

Kept apart from the readers so that every format module and the dispatcher can share them without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ImageInfo:
    """What a header tells without decoding the pixels."""

    channels: int
    height: int
    width: int
    dtype: str
    band_names: tuple[str, ...] = field(default=())  # GeoTIFF band descriptions, "" where unset
    nodata: float | None = None  # GeoTIFF nodata value of the first band
    georeferenced: bool = False


@dataclass
class Decoded:
    """Pixels plus, for GeoTIFFs, where they are: ``crs`` ("" when none) and the affine ``transform``,
    and the file's ``nodata`` value (of its first band; None when it declares none)."""

    array: np.ndarray
    crs: str | None = None
    transform: tuple[float, ...] | None = None
    nodata: float | None = None
