"""Decode one image file into a C×H×W array in its native dtype (uint8, uint16, int16, float32).

PNG/JPEG/BMP go through Pillow; TIFF and GeoTIFF through rasterio, which reads any band count and keeps
the georeference. Values are not scaled here: scaling happens on the device (see augment/scaling.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError

TIFF_SUFFIXES = {".tif", ".tiff"}
PIL_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}


@dataclass(frozen=True)
class ImageInfo:
    """What a header tells without decoding the pixels."""

    channels: int
    height: int
    width: int
    dtype: str


def probe_image(path: Path) -> ImageInfo:
    """Read only the header; a ``UserError`` naming the file if it is not a readable image."""
    suffix = path.suffix.lower()
    try:
        if suffix in TIFF_SUFFIXES:
            import rasterio

            with rasterio.open(path) as src:
                return ImageInfo(src.count, src.height, src.width, src.dtypes[0])
        from PIL import Image

        with Image.open(path) as im:
            channels, dtype = _pil_layout(im.mode)
            return ImageInfo(channels, im.height, im.width, dtype)
    except UserError:
        raise
    except Exception as e:  # Pillow and rasterio raise many types for corrupt files
        raise UserError(f"{path}: not a readable image ({type(e).__name__}: {_first_line(e)})") from None


def read_image(path: Path) -> np.ndarray:
    """Decode the whole image as C×H×W in its stored dtype."""
    suffix = path.suffix.lower()
    try:
        if suffix in TIFF_SUFFIXES:
            import rasterio

            with rasterio.open(path) as src:
                return src.read()
        from PIL import Image

        with Image.open(path) as im:
            im.load()
            channels, dtype = _pil_layout(im.mode)
            if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGBA" if "A" in im.mode else "RGB")
            array = np.array(im)  # a writable copy: torch refuses read-only buffers
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"{path}: cannot decode image ({type(e).__name__}: {_first_line(e)})") from None
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    if array.dtype == np.int32 and dtype == "uint16":  # Pillow's 16-bit grayscale "I" mode
        array = array.astype(np.uint16)
    return np.ascontiguousarray(array)


def _pil_layout(mode: str) -> tuple[int, str]:
    layouts = {
        "1": (1, "uint8"), "L": (1, "uint8"), "P": (3, "uint8"), "RGB": (3, "uint8"),
        "RGBA": (4, "uint8"), "LA": (2, "uint8"), "PA": (4, "uint8"), "CMYK": (3, "uint8"),
        "YCbCr": (3, "uint8"), "I;16": (1, "uint16"), "I;16B": (1, "uint16"), "I;16L": (1, "uint16"),
        "I": (1, "uint16"), "F": (1, "float32"),
    }
    if mode not in layouts:
        raise UserError(f"unsupported image mode {mode!r}")
    return layouts[mode]


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else "no detail"
