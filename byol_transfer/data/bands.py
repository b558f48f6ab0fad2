"""Band selection for every dataset and ``prepare tiles``: ``--bands`` text → 1-based band indices.

Not a format of its own: any multi-band file (GeoTIFF, a 4-channel PNG) is read through it. Bands are
chosen by 1-based index (GDAL's convention, as in ``gdal_translate -b``) or by name. A name is looked
up in the file's band descriptions first, then in the band names a data card declares (EuroSAT files
carry no descriptions; the card gives their order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

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
