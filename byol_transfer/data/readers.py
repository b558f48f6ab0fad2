"""Decode one image file into a C×H×W array in its native dtype (uint8, uint16, int16, float32).

PNG/JPEG/BMP go through Pillow, except 16-bit colour PNGs, which Pillow silently reduces to 8 bits: those
and every TIFF/GeoTIFF go through rasterio (GDAL), which reads any band count and keeps the georeference.
DICOM goes through pydicom (optional extra, see dicom.py). Values are not scaled here: scaling happens on
the device (see augment/scaling.py).
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import UserError
from .badfiles import BadFileError, first_line

TIFF_SUFFIXES = {".tif", ".tiff"}
PIL_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
DICOM_SUFFIXES = {".dcm", ".dicom"}
IMAGE_SUFFIXES = TIFF_SUFFIXES | PIL_SUFFIXES | DICOM_SUFFIXES

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def probe_image(path: Path) -> ImageInfo:
    """Read only the header (and check the file is not cut short); a ``BadFileError`` naming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in DICOM_SUFFIXES:
            from .dicom import probe_dicom

            return probe_dicom(path)
        if suffix in TIFF_SUFFIXES or _is_16bit_colour_png(path):
            return probe_raster(path)
        from PIL import Image

        with Image.open(path) as im:
            channels, dtype = _pil_layout(im.mode, path)
            info = ImageInfo(channels, im.height, im.width, dtype)
            fmt = im.format
        _check_trailer(path, fmt)
        return info
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
            from .dicom import read_dicom

            decoded = Decoded(read_dicom(path))
        elif suffix in TIFF_SUFFIXES or _is_16bit_colour_png(path):
            return _read_gdal(path, bands)
        else:
            decoded = Decoded(_read_pil(path))
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


def crs_string(crs) -> str:  # noqa: ANN001 (rasterio.crs.CRS, imported lazily)
    """A compact CRS text: "EPSG:32629" where an EPSG code exists, else WKT; "" for none."""
    return "" if crs is None else crs.to_string()


@contextmanager
def open_raster(path: Path | str) -> Iterator:
    """``rasterio.open`` without NotGeoreferencedWarning: plain TIFF and PNG files are fine here.

    A URL (see remote.py) opens through GDAL's virtual file systems, and the whole block (reads included)
    runs with bounded HTTP timeouts and retries.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from .remote import gdal_env, gdal_path, is_url

    remote = is_url(path)
    with warnings.catch_warnings(), (gdal_env() if remote else nullcontext()):
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(gdal_path(str(path)) if remote else path) as src:
            yield src


# --------------------------------------------------------------------------------------------------
# GDAL (TIFF, GeoTIFF, 16-bit colour PNG)
# --------------------------------------------------------------------------------------------------


def probe_raster(path: Path) -> ImageInfo:
    """Header of anything GDAL opens (GeoTIFF, VRT, JPEG2000, ...); a ``BadFileError`` naming the file."""
    try:
        return _probe_gdal(path)
    except UserError:
        raise
    except Exception as e:
        raise BadFileError(f"{path}: not a readable raster ({type(e).__name__}: {first_line(e)})") from None


def _probe_gdal(path: Path) -> ImageInfo:
    with open_raster(path) as src:
        if len(set(src.dtypes)) > 1:
            raise BadFileError(f"{path}: bands of different dtypes {sorted(set(src.dtypes))}")
        _check_tiff_blocks(src, path)
        return ImageInfo(
            src.count, src.height, src.width, _dtype_name(src.dtypes[0], path),
            band_names=tuple(d or "" for d in src.descriptions),
            nodata=src.nodata,
            georeferenced=src.crs is not None,
        )


def _read_gdal(path: Path, bands: Sequence[int] | None) -> Decoded:
    try:
        with open_raster(path) as src:
            if bands is not None and any(not 1 <= b <= src.count for b in bands):
                raise BadFileError(f"{path}: has {src.count} band(s), cannot select bands {list(bands)}")
            array = src.read(indexes=list(bands) if bands is not None else None)
            crs, transform = crs_string(src.crs), tuple(src.transform)[:6]
            nodata = src.nodata
    except UserError:
        raise
    except Exception as e:
        raise BadFileError(f"{path}: cannot decode image ({type(e).__name__}: {first_line(e)})") from None
    return Decoded(array, crs, transform, nodata)


def _check_tiff_blocks(src, path: Path) -> None:  # noqa: ANN001
    """A truncated TIFF still has a readable header; its last pixel block points past the end of file.

    GDAL exposes block offsets in the "TIFF" metadata domain, so this costs one dictionary lookup.
    """
    if src.driver != "GTiff":
        return
    rows = -(-src.height // src.block_shapes[0][0])
    cols = -(-src.width // src.block_shapes[0][1])
    last = f"{cols - 1}_{rows - 1}"
    offset = src.get_tag_item(f"BLOCK_OFFSET_{last}", "TIFF", bidx=src.count)
    size = src.get_tag_item(f"BLOCK_SIZE_{last}", "TIFF", bidx=src.count)
    from .remote import is_url

    if is_url(path):  # no cheap size check; a cut remote file fails at the read, naming the URL
        return
    if offset and size and int(offset) + int(size) > os.path.getsize(path):
        raise BadFileError(f"{path}: truncated TIFF (pixel data end at byte {int(offset) + int(size)}, "
                           f"file has {os.path.getsize(path)})")


def _dtype_name(dtype: str, path: Path) -> str:
    supported = {"uint8", "uint16", "int16", "float32", "float64", "int32", "uint32"}
    if dtype not in supported:
        raise BadFileError(f"{path}: unsupported pixel type {dtype}")
    return dtype


# --------------------------------------------------------------------------------------------------
# Pillow (PNG, JPEG, BMP)
# --------------------------------------------------------------------------------------------------


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image, ImageFile

    # Pillow's opt-in for decoding cut files must stay off: a truncated file is a bad file, not grey pixels
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise UserError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True (set by another library or script); "
                        "byol-transfer refuses to read damaged images as partly grey: set it to False")
    with Image.open(path) as im:
        im.load()  # raises OSError "image file is truncated" for data cut short
        fmt = im.format
        _, dtype = _pil_layout(im.mode, path)
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


def _pil_layout(mode: str, path: Path | None = None) -> tuple[int, str]:
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


def _is_16bit_colour_png(path: Path) -> bool:
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
