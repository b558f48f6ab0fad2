"""Segmentation masks → H×W class indices through a declared mapping.

Masks come as class indices already ({0, 1}), as {0, 255}, as palette PNGs (the palette index is the
stored value) or as 3-channel colour images. A mapping declares what each stored value means, e.g.
``{0: 0, 255: 1}`` or ``{"0,0,0": 0, "255,0,0": 1}`` for colours; a value outside it is an error naming
the file, never a silent class. Without a mapping, single-channel values are taken as class indices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import UserError
from .badfiles import BadFileError, first_line


class MaskMapping:
    """Stored value (an int, or an R,G,B triple) → class index."""

    def __init__(self, mapping: Mapping[Any, int] | None = None, where: str = "mask mapping") -> None:
        self.gray: dict[int, int] = {}
        self.colour: dict[tuple[int, int, int], int] = {}
        for key, value in (mapping or {}).items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise UserError(f"{where}: class index for {key!r} must be an integer, got {value!r}")
            colour = _as_colour(key)
            if colour is not None:
                self.colour[colour] = value
            else:
                try:
                    self.gray[int(key)] = value
                except (TypeError, ValueError):
                    raise UserError(f"{where}: bad mask value {key!r} (an integer or 'R,G,B')") from None
        self.declared = bool(mapping)

    def __call__(self, mask: np.ndarray, path: Path) -> np.ndarray:
        """C×H×W stored mask → H×W int64 class indices."""
        if mask.shape[0] >= 3 and self.colour:
            return self._map_colour(mask[:3], path)
        if mask.shape[0] >= 3:
            if not (np.array_equal(mask[0], mask[1]) and np.array_equal(mask[0], mask[2])):
                raise BadFileError(f"{path}: colour mask needs a declared 'R,G,B' → class mapping")
        values = mask[0]
        if not self.gray:
            return values.astype(np.int64)
        if values.dtype in (np.uint8, np.uint16):  # a lookup table: one indexing pass
            lut = np.full(256 if values.dtype == np.uint8 else 65536, -1, dtype=np.int64)
            for key, cls in self.gray.items():
                if 0 <= key < len(lut):
                    lut[key] = cls
            out = lut[values]
            unknown = out < 0
        else:
            keys = np.array(sorted(self.gray), dtype=np.int64)
            classes = np.array([self.gray[k] for k in keys], dtype=np.int64)
            flat = values.astype(np.int64)
            pos = np.clip(np.searchsorted(keys, flat), 0, len(keys) - 1)
            out, unknown = classes[pos], keys[pos] != flat
        if unknown.any():
            bad = np.unique(values[unknown])[:5].tolist()
            raise BadFileError(f"{path}: mask values {bad} are not in the declared mapping {sorted(self.gray)}")
        return out

    def _map_colour(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        packed = (rgb[0].astype(np.int64) << 16) | (rgb[1].astype(np.int64) << 8) | rgb[2].astype(np.int64)
        out = np.full(packed.shape, -1, dtype=np.int64)
        for (r, g, b), cls in self.colour.items():
            out[packed == ((r << 16) | (g << 8) | b)] = cls
        if (out < 0).any():
            ys, xs = np.nonzero(out < 0)
            colour = tuple(int(v) for v in rgb[:, ys[0], xs[0]])
            raise BadFileError(f"{path}: mask colour {colour} is not in the declared mapping")
        return out


def read_mask(path: Path) -> np.ndarray:
    """Stored mask values as C×H×W; palette PNGs keep their indices (no conversion to colours)."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            from .formats.geotiff import open_raster

            with open_raster(path) as src:
                return src.read()
        from PIL import Image

        with Image.open(path) as im:
            im.load()
            array = np.array(im)  # palette PNGs give their indices here, not colours
            if im.mode in ("LA", "PA"):
                array = array[..., 0]  # drop alpha: it is not part of the class
            elif im.mode == "RGBA":
                array = array[..., :3]
    except UserError:
        raise
    except Exception as e:
        raise BadFileError(f"{path}: cannot decode mask ({type(e).__name__}: {first_line(e)})") from None
    if array.dtype == bool:
        array = array.astype(np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _as_colour(key: Any) -> tuple[int, int, int] | None:
    if isinstance(key, (list, tuple)) and len(key) == 3:
        return tuple(int(v) for v in key)  # type: ignore[return-value]
    if isinstance(key, str) and key.count(",") == 2:
        try:
            r, g, b = (int(v) for v in key.split(","))
        except ValueError:
            raise UserError(f"mask mapping: bad colour {key!r} (expected 'R,G,B')") from None
        return r, g, b
    return None
