"""TIFF, GeoTIFF and anything else GDAL opens (VRT, JPEG2000, 16-bit colour PNG), through rasterio.

GDAL reads any band count and keeps the georeference (CRS, affine transform, nodata, band descriptions).
A URL (see data/remote.py) opens through GDAL's virtual file systems with bounded HTTP timeouts. The header
probe also catches TIFFs cut short, whose header is still readable.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator, Sequence

from ...errors import UserError
from ..badfiles import BadFileError, first_line
from ..remote import gdal_env, gdal_path, is_url
from .types import Decoded, ImageInfo

TIFF_SUFFIXES = {".tif", ".tiff"}


def crs_string(crs) -> str:  # noqa: ANN001 (rasterio.crs.CRS, imported lazily)
    """A compact CRS text: "EPSG:32629" where an EPSG code exists, else WKT; "" for none."""
    return "" if crs is None else crs.to_string()


@contextmanager
def open_raster(path: Path | str) -> Iterator:
    """``rasterio.open`` without NotGeoreferencedWarning: plain TIFF and PNG files are fine here.

    A URL (see data/remote.py) opens through GDAL's virtual file systems, and the whole block (reads included)
    runs with bounded HTTP timeouts and retries.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    remote = is_url(path)
    with warnings.catch_warnings(), (gdal_env() if remote else nullcontext()):
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(gdal_path(str(path)) if remote else path) as src:
            yield src


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


def read_raster(path: Path, bands: Sequence[int] | None) -> Decoded:
    """Pixels (only the ``bands`` asked for, 1-based), CRS, transform and nodata of one raster file."""
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
