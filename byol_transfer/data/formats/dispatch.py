"""Decode one image file into a C×H×W array in its native dtype (uint8, uint16, int16, float32).

The suffix picks the reader: PNG/JPEG/BMP go through Pillow (pil.py), except 16-bit colour PNGs, which
Pillow silently reduces to 8 bits: those and every TIFF/GeoTIFF go through rasterio (geotiff.py). DICOM
goes through pydicom (optional extra, dicom.py). Every failure becomes one ``BadFileError`` naming the
file. Values are not scaled here: scaling happens on the device (see augment/scaling.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import UserError
from ..badfiles import BadFileError, first_line
from .dicom import DICOM_SUFFIXES, probe_dicom, read_dicom
from .geotiff import TIFF_SUFFIXES, probe_raster, read_raster
from .pil import PIL_SUFFIXES, is_16bit_colour_png, probe_pil, read_pil
from .types import Decoded, ImageInfo

IMAGE_SUFFIXES = TIFF_SUFFIXES | PIL_SUFFIXES | DICOM_SUFFIXES


def probe_image(path: Path) -> ImageInfo:
    """Read only the header (and check the file is not cut short); a ``BadFileError`` naming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in DICOM_SUFFIXES:
            return probe_dicom(path)
        if suffix in TIFF_SUFFIXES or is_16bit_colour_png(path):
            return probe_raster(path)
        return probe_pil(path)
    except UserError:
        raise
    except Exception as e:  # Pillow and rasterio raise many types for corrupt files
        raise BadFileError(f"{path}: not a readable image ({type(e).__name__}: {first_line(e)})") from None


def read_image(path: Path, bands: Sequence[int] | None = None) -> np.ndarray:
    """Decode the whole image as C×H×W in its stored dtype; ``bands`` are 1-based band indices."""
    return decode(path, bands).array


def decode(path: Path, bands: Sequence[int] | None = None) -> Decoded:
    """Like :func:`read_image`, plus the georeference of GeoTIFFs."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in DICOM_SUFFIXES:
            decoded = Decoded(read_dicom(path))
        elif suffix in TIFF_SUFFIXES or is_16bit_colour_png(path):
            return read_raster(path, bands)  # GDAL reads only the selected bands
        else:
            decoded = Decoded(read_pil(path))
    except UserError:
        raise
    except Exception as e:
        raise BadFileError(f"{path}: cannot decode image ({type(e).__name__}: {first_line(e)})") from None
    if bands is not None:
        decoded.array = select_bands(decoded.array, bands, path)
    return decoded


def select_bands(array: np.ndarray, bands: Sequence[int], path: Path) -> np.ndarray:
    if any(not 1 <= b <= array.shape[0] for b in bands):
        raise BadFileError(f"{path}: has {array.shape[0]} band(s), cannot select bands {list(bands)}")
    return np.ascontiguousarray(array[[b - 1 for b in bands]])
