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

from ..errors import UserError
from ..io import atomic_path, atomic_write_text
from .badfiles import BadFileError, first_line
from .geotiff import BandSpec, invalid_pixels, resolve_bands
from .readers import open_raster, probe_raster
from .remote import is_url, scene_stem
from .tiling import window_grid

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
    out.mkdir(parents=True, exist_ok=True)
    report = TileReport()
    rows: list[dict] = []
    for scene in (s if is_url(s) else Path(s) for s in map(str, scenes)):
        if not is_url(scene) and not scene.is_file():
            raise UserError(f"scene not found: {scene}")
        info = probe_raster(scene)
        indexes = resolve_bands(bands, info.channels, scene, info.band_names, band_names)
        windows = window_grid(info.height, info.width, size, stride or size)
        if not windows:
            raise UserError(f"{scene}: {info.width}×{info.height} px is smaller than one {size}-px tile")
        kept = skipped = 0
        try:
            with open_raster(scene) as src:
                scene_nodata = src.nodata if nodata is None else nodata
                descriptions = [src.descriptions[i - 1] for i in (indexes or range(1, src.count + 1))]
                for window in windows:
                    array = src.read(indexes=indexes, window=window.rasterio())
                    valid = 1.0 - float(invalid_pixels(array, scene_nodata).mean())
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
        except Exception as e:
            raise BadFileError(f"{scene}: cannot read pixels ({type(e).__name__}: {first_line(e)})") from None
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
