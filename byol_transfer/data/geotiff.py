"""GeoTIFF specifics shared by tile folders, scenes and ``prepare tiles``: band selection and valid pixels.

Bands are chosen by 1-based index (GDAL's convention, as in ``gdal_translate -b``) or by name. A name is
looked up in the file's band descriptions first, then in the band names a data card declares (EuroSAT
files carry no descriptions; the card gives their order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import numpy as np

from ..errors import UserError

BandSpec = Union[int, str]


def parse_bands(text: str | Sequence[BandSpec] | None) -> list[BandSpec] | None:
    """``"4,3,2"`` or ``"B04,B03,B02"`` (command line) or a list → a list of ints and names."""
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[BandSpec] = []
    for item in items:
        if isinstance(item, str):
            item = item.strip()
            if not item:
                continue
            out.append(int(item) if item.isdigit() else item)
        else:
            out.append(int(item))
    if not out:
        raise UserError("--bands: empty band list")
    return out


def resolve_bands(
    bands: Sequence[BandSpec] | None,
    count: int,
    path: Path | str,
    descriptions: Sequence[str] = (),
    card_names: Sequence[str] | None = None,
) -> list[int] | None:
    """1-based band indices for ``bands``; None means all bands. Errors name the file and the band."""
    if bands is None:
        return None
    indices = []
    for band in bands:
        if isinstance(band, int):
            if not 1 <= band <= count:
                raise UserError(f"{path}: band {band} does not exist (bands are numbered 1..{count})")
            indices.append(band)
            continue
        if band in descriptions:
            indices.append(list(descriptions).index(band) + 1)
        elif card_names and band in card_names:
            index = list(card_names).index(band) + 1
            if index > count:
                raise UserError(f"{path}: band {band!r} is band {index} of the card, but the file has {count}")
            indices.append(index)
        else:
            known = [d for d in descriptions if d] or list(card_names or [])
            hint = f"known: {', '.join(known)}" if known else "the file has no band descriptions; use numbers"
            raise UserError(f"{path}: no band named {band!r} ({hint})")
    return indices


def output_band_names(
    descriptions: Sequence[str], card_names: Sequence[str] | None, count: int, bands: Sequence[int] | None
) -> list[str]:
    """Names of the bands a dataset yields: file descriptions, else the card's; [] when unknown."""
    names = list(descriptions) if any(descriptions) else list(card_names or [])
    if len(names) != count:
        return []
    return [names[b - 1] for b in bands] if bands is not None else names


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
