"""Whole GeoTIFF scenes tiled on the fly: one sample per window, read with a windowed read.

At construction every scene's header is checked (same band count and dtype, band selection valid) and,
when ``min_valid > 0``, each window's valid fraction is measured in one pass over the scene (see
tiles/grid.py); windows below it are dropped and counted. Each process keeps its own open rasterio handles
(reopening a file per patch is ~15x slower here, and a GDAL handle must not cross a fork), so DataLoader
workers each open every scene once.

Scenes may be URLs (``https://``, ``s3://``, ``gs://``, see remote.py): GDAL then fetches only the byte
ranges a window needs, and every read runs with bounded HTTP timeouts, so a dead server is an error naming
the URL. With ``min_valid > 0`` the validity scan reads each scene's selected bands once; ``min_valid=0``
reads nothing but the windows.
"""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ...errors import UserError
from ..badfiles import BadFileError, SkipLog, first_line
from ..bands import BandSpec, output_band_names, resolve_bands
from ..formats.geotiff import crs_string, open_raster, probe_raster
from ..remote import gdal_env, gdal_path, is_url
from ..resize import resize_to_square
from ..tiles.grid import Window, valid_fractions, window_grid
from .base import BandDataset

log = logging.getLogger(__name__)

# Open handles kept per process; beyond this the oldest is closed (file descriptors are finite).
MAX_OPEN_SCENES = 64


@dataclass(frozen=True)
class SceneWindow:
    scene: int  # index into SceneDataset.scenes
    window: Window


class SceneDataset(BandDataset):
    """Samples ``{"image": C×S×S, "meta": {"path", "crs", "transform", "window"}}`` from scene windows.

    ``meta["transform"]`` is the window's own affine transform (6 float64 coefficients) and
    ``meta["window"]`` its (row, col, height, width) in the scene, so predictions can be written back.
    """

    def __init__(
        self,
        scenes: Sequence[str | Path],
        tile_size: int,
        stride: int | None = None,
        *,
        image_size: int | None = None,
        bands: Sequence[BandSpec] | None = None,
        band_names: Sequence[str] | None = None,
        min_valid: float = 0.9,
        nodata: float | None = None,
        channels: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        if not scenes:
            raise UserError("no scenes given")
        if not 0.0 <= min_valid <= 1.0:
            raise UserError(f"--min-valid must be between 0 and 1, got {min_valid}")
        self.tile_size, self.stride = tile_size, stride or tile_size
        self.image_size = image_size
        self.skip_bad = skip_bad
        self.scenes: list[Path | str] = []  # paths, or URLs kept as strings
        self.nodata: list[float | None] = []
        self.windows: list[SceneWindow] = []
        self.dropped_windows = 0
        skips = SkipLog("scene(s)")
        reference = None
        self.bands: list[int] | None = None
        for scene in (s if is_url(s) else Path(s) for s in map(str, scenes)):
            try:
                if not is_url(scene) and not scene.is_file():
                    raise BadFileError(f"scene not found: {scene}")
                info = probe_raster(scene)
                if channels is not None and info.channels != channels:
                    raise BadFileError(f"{scene}: {info.channels} band(s), but the data card declares {channels}")
                if reference is None:
                    self.bands = resolve_bands(bands, info.channels, scene, info.band_names, band_names)
                    reference = info
                elif (info.channels, info.dtype) != (reference.channels, reference.dtype):
                    raise BadFileError(
                        f"{scene}: {info.channels} band(s) of {info.dtype}, but {self.scenes[0]} has "
                        f"{reference.channels} of {reference.dtype}"
                    )
                kept, dropped = self._windows_of(scene, info.height, info.width, min_valid,
                                                 info.nodata if nodata is None else nodata)
            except UserError as e:
                if not skip_bad:
                    raise
                skips.add(e)
                continue
            self.windows += [SceneWindow(len(self.scenes), w) for w in kept]
            self.scenes.append(scene)
            self.nodata.append(info.nodata if nodata is None else nodata)
            self.dropped_windows += dropped
        skips.report()
        if reference is None:
            raise UserError(f"no readable scenes left after skipping {len(skips)}")
        self.info = reference
        self.band_names = output_band_names(reference.band_names, band_names, reference.channels, self.bands)
        if self.dropped_windows:
            log.info("dropped %d window(s) with less than %.0f%% valid pixels", self.dropped_windows, 100 * min_valid)
        if not self.windows:
            raise UserError(
                f"{self.scenes[0] if len(self.scenes) == 1 else f'{len(self.scenes)} scenes'}: no {tile_size}-px "
                f"window has at least {min_valid:.0%} valid pixels (nodata, NaN and all-zero pixels are invalid)"
            )
        self._pid = -1
        self._handles: dict[int, Any] = {}

    def _windows_of(self, scene: Path | str, height: int, width: int, min_valid: float, nodata) -> tuple[list[Window], int]:  # noqa: ANN001
        windows = window_grid(height, width, self.tile_size, self.stride)
        if not windows:
            raise BadFileError(f"{scene}: {height}×{width} pixels is smaller than one {self.tile_size}-px tile")
        if min_valid <= 0:
            return windows, 0
        try:
            with open_raster(scene) as src:
                fractions = valid_fractions(src, windows, self.bands, nodata)
        except UserError:
            raise
        except Exception as e:
            raise BadFileError(f"{scene}: cannot read pixels ({type(e).__name__}: {first_line(e)})") from None
        kept = [w for w, f in zip(windows, fractions) if f >= min_valid]
        return kept, len(windows) - len(kept)

    def __len__(self) -> int:
        return len(self.windows)

    def _read(self, index: int) -> dict[str, Any]:
        item = self.windows[index]
        scene, window = self.scenes[item.scene], item.window
        try:
            with gdal_env() if is_url(scene) else nullcontext():  # GDAL reads its HTTP options per request
                src, crs = self._handle(item.scene)
                rio_window = window.rasterio()
                array = src.read(indexes=self.bands, window=rio_window)
                transform = src.window_transform(rio_window)
        except Exception as e:
            raise BadFileError(
                f"{scene}: cannot read window at row {window.row}, col {window.col} "
                f"({type(e).__name__}: {first_line(e)})"
            ) from None
        image = resize_to_square(torch.from_numpy(np.ascontiguousarray(array)), self.image_size)
        meta = {
            "path": str(scene),
            "crs": crs,
            "transform": torch.tensor(tuple(transform)[:6], dtype=torch.float64),
            "window": torch.tensor([window.row, window.col, window.size, window.size]),
        }
        return {"image": image, "meta": meta}

    def _handle(self, scene: int) -> tuple[Any, str]:
        """This process's open handle on a scene and its CRS text (opened on first use, after any fork)."""
        if self._pid != os.getpid():
            self._handles = {}  # inherited from the parent: never use them in a child
            self._pid = os.getpid()
        entry = self._handles.get(scene)
        if entry is None:
            if len(self._handles) >= MAX_OPEN_SCENES:
                oldest = next(iter(self._handles))
                self._handles.pop(oldest)[0].close()
            import rasterio

            path = self.scenes[scene]
            src = rasterio.open(gdal_path(path) if is_url(path) else path)
            entry = (src, crs_string(src.crs))  # the CRS text costs ~0.1 ms: once per scene, not per window
            self._handles[scene] = entry
        return entry

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"], state["_pid"] = {}, -1  # handles never travel to a spawned worker
        return state

    def __del__(self) -> None:
        if getattr(self, "_pid", -1) == os.getpid():
            for src, _ in self._handles.values():
                src.close()
