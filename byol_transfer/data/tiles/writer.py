"""``byol-transfer prepare tiles``: cut GeoTIFF scenes into GeoTIFF tiles, each with its own georeference.

Every tile keeps the scene's CRS, dtype, nodata and band descriptions, and gets its window's affine
transform, so it lines up exactly with the scene in a GIS. Windows with less than ``min_valid`` valid
pixels (nodata, NaN, all-zero) are skipped and counted. ``tiles.csv`` in the output folder indexes every
written tile with its source scene, window and valid fraction. Scenes may be URLs (see remote.py).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ...errors import UserError
from ...io import atomic_path, atomic_write_text
from ...outputs import write_error
from ..badfiles import BadFileError, first_line
from ..bands import BandSpec, resolve_bands
from ..formats.geotiff import open_raster, probe_raster
from ..pixel_checks import invalid_pixels
from ..remote import is_url, scene_stem
from .grid import window_grid

log = logging.getLogger(__name__)

INDEX_NAME = "tiles.csv"


@dataclass
class TileReport:
    kept: int = 0
    skipped: int = 0
    files: list[Path] = field(default_factory=list)
    per_scene: dict[str, tuple[int, int]] = field(default_factory=dict)  # scene → (kept, skipped)


def write_tiles(
    scenes: Sequence[str | Path],
    out: str | Path,
    size: int,
    stride: int | None = None,
    *,
    min_valid: float = 0.9,
    bands: Sequence[BandSpec] | None = None,
    band_names: Sequence[str] | None = None,
    nodata: float | None = None,
    compress: str = "deflate",
) -> TileReport:
    if not scenes:
        raise UserError("prepare tiles: no scene given")
    if not 0.0 <= min_valid <= 1.0:
        raise UserError(f"--min-valid must be between 0 and 1, got {min_valid}")
    out = Path(out)
    report = TileReport()
    rows: list[dict] = []
    scenes = [s if is_url(s) else Path(s) for s in map(str, scenes)]
    for scene in scenes:  # every scene's problems before the first tile is written
        if not is_url(scene) and not scene.is_file():
            raise UserError(f"scene not found: {scene}")
        if len(scenes) > 1:  # one scene: the tiling pass itself writes nothing before it finds a tile
            _check_has_data(scene, nodata)
    for scene in scenes:
        info = probe_raster(scene)
        indexes = resolve_bands(bands, info.channels, scene, info.band_names, band_names)
        windows = window_grid(info.height, info.width, size, stride or size)
        if not windows:
            raise UserError(f"{scene}: {info.width}×{info.height} px is smaller than one {size}-px tile")
        kept = skipped = 0
        best = 0.0  # the highest valid fraction of any window: 0 means the scene holds no data at all
        try:
            with open_raster(scene) as src:
                scene_nodata = src.nodata if nodata is None else nodata
                descriptions = [src.descriptions[i - 1] for i in (indexes or range(1, src.count + 1))]
                for window in windows:
                    array = src.read(indexes=indexes, window=window.rasterio())
                    valid = 1.0 - float(invalid_pixels(array, scene_nodata).mean())
                    best = max(best, valid)
                    if valid < min_valid:
                        skipped += 1
                        continue
                    name = f"{scene_stem(scene)}_r{window.row:05d}_c{window.col:05d}.tif"
                    profile = {
                        "driver": "GTiff", "width": size, "height": size, "count": array.shape[0],
                        "dtype": array.dtype.name, "crs": src.crs,
                        "transform": src.window_transform(window.rasterio()),
                        "nodata": scene_nodata, "compress": compress,
                    }
                    out.mkdir(parents=True, exist_ok=True)  # only once there is a tile to write
                    with atomic_path(out / name) as tmp:
                        import rasterio

                        with rasterio.open(tmp, "w", **profile) as dst:
                            dst.write(array)
                            for i, text in enumerate(descriptions, start=1):
                                if text:
                                    dst.set_band_description(i, text)
                    report.files.append(out / name)
                    rows.append({"file": name, "scene": str(scene), "row": window.row, "col": window.col,
                                 "size": size, "valid_fraction": round(valid, 4)})
                    kept += 1
        except UserError:
            raise
        except OSError as e:
            if write_error(e) is not None:  # a full disk or a read-only --out is not the scene's fault
                raise
            raise BadFileError(f"{scene}: cannot read pixels ({type(e).__name__}: {first_line(e)})") from None
        except Exception as e:
            raise BadFileError(f"{scene}: cannot read pixels ({type(e).__name__}: {first_line(e)})") from None
        if kept == 0:
            what = ("every pixel is nodata" + (f" ({scene_nodata:g})" if scene_nodata is not None else "")
                    + ", NaN or 0 in every band") if best == 0 else f"the best window has {best:.0%} valid pixels"
            raise UserError(f"{scene}: no {size}-px tile has at least {min_valid:.0%} valid pixels ({what})")
        report.per_scene[str(scene)] = (kept, skipped)
        report.kept += kept
        report.skipped += skipped
        log.info("%s: %d tile(s) kept, %d skipped (valid pixels < %.0f%%)", scene_stem(scene), kept, skipped, 100 * min_valid)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["file", "scene", "row", "col", "size", "valid_fraction"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / INDEX_NAME, buffer.getvalue())
    return report


# A scene is looked at once at this resolution (nearest neighbour) before any tile is written
OVERVIEW_PX = 512


def _check_has_data(scene: Path, nodata: float | None) -> None:
    """Refuse a scene whose overview holds no valid pixel (all nodata, NaN or 0), naming it.

    A read at most OVERVIEW_PX on a side, so that one empty scene among several stops the command before
    the others' tiles are written; the tiling pass still refuses a scene that yields no tile.
    """
    info = probe_raster(scene)
    scale = max(1.0, max(info.height, info.width) / OVERVIEW_PX)
    shape = (info.channels, max(1, round(info.height / scale)), max(1, round(info.width / scale)))
    try:
        with open_raster(scene) as src:
            overview = src.read(out_shape=shape)
            scene_nodata = src.nodata if nodata is None else nodata
    except Exception as e:  # noqa: BLE001 (rasterio raises several types for damaged files)
        raise BadFileError(f"{scene}: cannot read pixels ({type(e).__name__}: {first_line(e)})") from None
    if invalid_pixels(overview, scene_nodata).all():
        value = f" ({scene_nodata:g})" if scene_nodata is not None else ""
        raise UserError(f"{scene}: the scene holds no data (every pixel is nodata{value}, NaN or 0 in every band)")
