"""Cutting a scene into windows: the grid, and the valid fraction of every window in one pass.

The valid-fraction scan reads the scene once in full-width strips (one strip per window row), so its
cost is one read of the selected bands, whatever the stride.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UserError
from ..pixel_checks import invalid_pixels


@dataclass(frozen=True)
class Window:
    row: int  # top pixel row in the scene
    col: int  # left pixel column
    size: int

    def rasterio(self):  # noqa: ANN201 (rasterio.windows.Window, imported lazily)
        from rasterio.windows import Window as RioWindow

        return RioWindow(self.col, self.row, self.size, self.size)


def grid_starts(length: int, size: int, stride: int) -> list[int]:
    """Window starts covering ``length``: every ``stride``, plus one flush with the far edge."""
    if length < size:
        return []
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)  # cover the last pixels instead of dropping a partial strip
    return starts


def window_grid(height: int, width: int, size: int, stride: int) -> list[Window]:
    if size <= 0 or stride <= 0:
        raise UserError(f"tile size and stride must be positive, got size {size}, stride {stride}")
    return [Window(r, c, size) for r in grid_starts(height, size, stride) for c in grid_starts(width, size, stride)]


def valid_fractions(
    src,  # noqa: ANN001 (an open rasterio dataset)
    windows: list[Window],
    indexes: list[int] | None,
    nodata: float | None,
    zero_is_nodata: bool = True,
) -> np.ndarray:
    """Fraction of valid pixels in each window (see pixel_checks.invalid_pixels), reading one strip per row."""
    from rasterio.windows import Window as RioWindow

    out = np.zeros(len(windows), dtype=np.float64)
    by_row: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_row.setdefault(w.row, []).append(i)
    for row, members in by_row.items():
        size = windows[members[0]].size
        strip = src.read(indexes=indexes, window=RioWindow(0, row, src.width, size))
        valid_per_column = (~invalid_pixels(strip, nodata, zero_is_nodata)).sum(axis=0)
        cumulative = np.concatenate([[0], np.cumsum(valid_per_column)])
        for i in members:
            col = windows[i].col
            out[i] = (cumulative[col + size] - cumulative[col]) / (size * size)
    return out
