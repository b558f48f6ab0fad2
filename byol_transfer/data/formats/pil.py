"""PNG, JPEG and BMP through Pillow, with the checks Pillow does not make.

Pillow silently reduces 16-bit colour PNGs to 8 bits, so :func:`is_16bit_colour_png` sends those to GDAL
(see dispatch.py). A file cut short must be a bad file, never grey pixels: the header probe checks the
PNG/JPEG trailer, and the decoder refuses Pillow's ``LOAD_TRUNCATED_IMAGES`` and JPEGs whose data end in
libjpeg's flat grey fill.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import UserError
from ..badfiles import BadFileError
from .types import ImageInfo

PIL_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def probe_pil(path: Path) -> ImageInfo:
    """The header through Pillow, then the trailer check (a cut file has a readable header)."""
    from PIL import Image

    with Image.open(path) as im:
        channels, dtype = pil_layout(im.mode, path)
        info = ImageInfo(channels, im.height, im.width, dtype)
        fmt = im.format
    _check_trailer(path, fmt)
    return info


def read_pil(path: Path) -> np.ndarray:
    from PIL import Image, ImageFile

    # Pillow's opt-in for decoding cut files must stay off: a truncated file is a bad file, not grey pixels
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise UserError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (set by another library or script); "
                        "byol-transfer refuses to read damaged images as partly grey: set it to False")
    with Image.open(path) as im:
        im.load()  # raises OSError "image file is truncated" for data cut short
        fmt = im.format
        _, dtype = pil_layout(im.mode, path)
        if im.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGBA" if "A" in im.mode else "RGB")
        array = np.array(im)  # a writable copy: torch refuses read-only buffers
    if array.dtype == bool:  # mode "1"
        array = array.astype(np.uint8) * 255
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    if array.dtype != np.dtype(dtype):  # Pillow's 32-bit "I" mode holding 16-bit values
        array = array.astype(dtype)
    if fmt == "JPEG":
        _check_jpeg_fill(array, path)
    return np.ascontiguousarray(array)


def _check_jpeg_fill(array: np.ndarray, path: Path) -> None:
    """A JPEG whose compressed data stop early (cut mid-file, end marker still there) decodes without an
    error: libjpeg only warns (Pillow drops the warning) and fills every block it could not decode, through
    the end of the image, with flat mid-grey (128 in every channel). So an image whose last 8×8 block is
    exactly 128 everywhere while the rest is not flat grey is a damaged file: an intact JPEG's compression
    noise practically never lands exactly there. (A picture that is flat 128 grey all over is left alone;
    its pixels cannot tell a fill from a drawing.)
    """
    if array.dtype != np.uint8 or min(array.shape[1:]) < 8:
        return
    if bool((array[:, -8:, -8:] == 128).all()) and not bool((array == 128).all()):
        raise BadFileError(f"{path}: damaged JPEG (its compressed data end early: the last block decodes as "
                           "libjpeg's flat grey fill)")


def pil_layout(mode: str, path: Path | None = None) -> tuple[int, str]:
    """(channels, dtype) of a Pillow image mode; an unknown mode is a bad file."""
    layouts = {
        "1": (1, "uint8"), "L": (1, "uint8"), "P": (3, "uint8"), "RGB": (3, "uint8"),
        "RGBA": (4, "uint8"), "LA": (2, "uint8"), "PA": (4, "uint8"), "CMYK": (3, "uint8"),
        "YCbCr": (3, "uint8"), "I;16": (1, "uint16"), "I;16B": (1, "uint16"), "I;16L": (1, "uint16"),
        "I": (1, "uint16"), "F": (1, "float32"),
    }
    if mode not in layouts:
        where = f"{path}: " if path else ""
        raise BadFileError(f"{where}unsupported image mode {mode!r}")
    return layouts[mode]


def is_16bit_colour_png(path: Path) -> bool:
    """PNG IHDR: bit depth at byte 24, colour type at byte 25 (2 = RGB, 6 = RGBA)."""
    if path.suffix.lower() != ".png":
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError:
        return False
    return len(head) == 26 and head[:8] == _PNG_SIGNATURE and head[24] == 16 and head[25] in (2, 6)


def _check_trailer(path: Path, fmt: str | None) -> None:
    """Catch files cut short (an interrupted copy or download) without decoding them.

    PNG ends with an IEND chunk; JPEG with the EOI marker FF D9 (a few writers append padding, so the
    last 64 bytes are searched).
    """
    if fmt not in ("PNG", "JPEG"):
        return
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(max(0, size - 64))
        tail = f.read()
    if fmt == "PNG" and b"IEND" not in tail[-12:]:
        raise BadFileError(f"{path}: truncated PNG (no IEND chunk at the end)")
    if fmt == "JPEG" and b"\xff\xd9" not in tail:
        raise BadFileError(f"{path}: truncated JPEG (no end-of-image marker)")
