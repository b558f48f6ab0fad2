"""DICOM slices through pydicom (optional: ``pip install 'byol-transfer[dicom]'``).

The stored values become modality values: ``raw × RescaleSlope + RescaleIntercept`` (Hounsfield units for
CT). The result stays an integer type when it can (int16 covers CT's −1024…3071 HU) so DataLoader batches
stay compact; a fractional slope or intercept gives float32. MONOCHROME1 images (inverted display) are
kept as stored; a CT window or percentile clip is applied later, on the device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import UserError
from ..badfiles import BadFileError, first_line
from .types import ImageInfo

DICOM_SUFFIXES = {".dcm", ".dicom"}


def _pydicom(path: Path) -> Any:
    try:
        import pydicom
    except ImportError:
        raise UserError(
            f"{path}: reading DICOM needs pydicom; install it with: pip install 'byol-transfer[dicom]'"
        ) from None
    return pydicom


def probe_dicom(path: Path) -> ImageInfo:
    ds = _read(path, header_only=True)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise BadFileError(f"{path}: multi-frame DICOM ({frames} frames) is not supported; export single slices")
    if "Rows" not in ds or "Columns" not in ds:
        raise BadFileError(f"{path}: DICOM file without an image (no Rows/Columns)")
    channels = int(ds.get("SamplesPerPixel", 1))
    return ImageInfo(channels, int(ds.Rows), int(ds.Columns), _output_dtype(ds))


def read_dicom(path: Path) -> np.ndarray:
    ds = _read(path, header_only=False)
    try:
        raw = ds.pixel_array
    except Exception as e:  # missing pixel data, or a compressed transfer syntax without its decoder
        raise BadFileError(
            f"{path}: cannot decode DICOM pixels ({type(e).__name__}: {first_line(e)}); compressed files "
            "need a decoder plugin such as pylibjpeg"
        ) from None
    dtype = _output_dtype(ds)
    slope, intercept = _rescale(ds)
    if (slope, intercept) != (1.0, 0.0):
        values = raw.astype(np.float64) * slope + intercept
        array = values.round().astype(dtype) if dtype != "float32" else values.astype(np.float32)
    else:
        array = raw.astype(dtype, copy=False)
    if array.ndim == 2:
        array = array[None]
    else:  # SamplesPerPixel 3: H×W×3
        array = array.transpose(2, 0, 1)
    return np.ascontiguousarray(array)


def _read(path: Path, header_only: bool) -> Any:
    pydicom = _pydicom(path)
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=header_only, force=False)
    except Exception as e:
        raise BadFileError(f"{path}: not a readable DICOM file ({type(e).__name__}: {first_line(e)})") from None


def _rescale(ds: Any) -> tuple[float, float]:
    return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)


def _output_dtype(ds: Any) -> str:
    """The narrowest of uint8/uint16/int16/float32 that holds every rescaled value exactly."""
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    slope, intercept = _rescale(ds)
    if slope.is_integer() and intercept.is_integer():
        ends = sorted((low * slope + intercept, high * slope + intercept))
        for name in ("uint8", "uint16", "int16"):
            info = np.iinfo(name)
            if info.min <= ends[0] and ends[1] <= info.max:
                return name
    return "float32"
