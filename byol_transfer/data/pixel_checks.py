"""Values a file's header cannot show: NaN/inf pixels and tiles that hold nothing but nodata.

:func:`invalid_pixels` is the one definition of an unusable pixel, shared by ``--min-valid`` (tile folders,
scene windows, ``prepare tiles``) and the statistics.

Such files train into a NaN loss or into nothing, and the message would blame the learning rate; so the
datasets check every image where it is decoded and name the file (``--skip-bad`` skips and counts it, the
usual bad-file policy, see badfiles.py). Partly invalid images are fine here: ``--min-valid`` and the
statistics deal with those.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .badfiles import BadFileError


def check_pixels(array: np.ndarray, path: Path, nodata: float | None, zero_is_nodata: bool) -> None:
    """Refuse a C×H×W image with a non-finite value, or whose every pixel is nodata (a ``BadFileError``).

    ``nodata``: the file's (or the card's) nodata value; ``zero_is_nodata``: an image that is 0 everywhere
    holds no data (GeoTIFF tiles, where swath gaps are stored as 0; photos may well be black).
    """
    if array.size == 0:
        raise BadFileError(f"{path}: the image has no pixels")
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            bands = [b + 1 for b in range(array.shape[0]) if not finite[b].all()]
            share = 1.0 - float(finite.mean())
            raise BadFileError(
                f"{path}: {share:.1%} of the pixel values are NaN or infinite (band(s) {_list(bands)}); "
                "training needs finite values: fill them, cut NaN-free tiles with `prepare tiles --min-valid 1`, "
                "or skip such files with --skip-bad"
            )
    if nodata is not None and np.isfinite(nodata) and bool((array == nodata).all()):
        raise BadFileError(f"{path}: every pixel is the nodata value {nodata:g}: the tile holds no data")
    if zero_is_nodata and not array.any():
        raise BadFileError(f"{path}: every pixel is 0 in every band (no data in a GeoTIFF tile)")


def _list(values: list[int]) -> str:
    return ", ".join(map(str, values[:8])) + (", ..." if len(values) > 8 else "")


def invalid_pixels(array: np.ndarray, nodata: float | None, zero_is_nodata: bool = True) -> np.ndarray:
    """H×W bool: True where a pixel is unusable.

    A pixel is invalid if any band is NaN or infinite or equals the nodata value, or (``zero_is_nodata``) if every
    band is 0 — how scene borders and swath gaps are often stored when no nodata value is declared.
    """
    bad = np.zeros(array.shape[1:], dtype=bool)
    if array.dtype.kind == "f":
        bad |= ~np.isfinite(array).all(axis=0)
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        bad |= (array == nodata).any(axis=0)  # a Python scalar: no wrap-around for e.g. -9999 vs uint16
    if zero_is_nodata:
        bad |= ~array.any(axis=0)
    return bad
