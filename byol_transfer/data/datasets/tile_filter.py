"""Drop GeoTIFF tiles that are mostly nodata (``--min-valid`` on a tile folder).

Unlike the header scan this reads every tile once, so it only runs when asked for. Tiles below the
threshold are dropped and counted; if none is left the error says so, naming the folder. It filters an
:class:`ImageFolderDataset` in place, so it lives with the datasets (scene windows are filtered by
tiles/grid.py's ``valid_fractions`` while the scene dataset is built).
"""

from __future__ import annotations

import logging

from ...errors import UserError
from ..formats.dispatch import read_image
from ..formats.geotiff import TIFF_SUFFIXES
from ..pixel_checks import invalid_pixels
from .image_folder import ImageFolderDataset

log = logging.getLogger(__name__)


def drop_invalid_tiles(dataset: ImageFolderDataset, min_valid: float, nodata: float | None) -> ImageFolderDataset:
    if not 0.0 <= min_valid <= 1.0:
        raise UserError(f"--min-valid must be between 0 and 1, got {min_valid}")
    keep = []
    for i, path in enumerate(dataset.files):
        array = read_image(path, dataset.bands)
        geo = path.suffix.lower() in TIFF_SUFFIXES
        file_nodata = nodata if nodata is not None else (dataset.info.nodata if geo else None)
        valid = 1.0 - invalid_pixels(array, file_nodata, zero_is_nodata=geo).mean()
        if valid >= min_valid:
            keep.append(i)
    dropped = len(dataset.files) - len(keep)
    if not keep:
        raise UserError(
            f"{dataset.root}: all {dropped} tile(s) have less than {min_valid:.0%} valid pixels "
            "(nodata, NaN and all-zero pixels are invalid)"
        )
    if dropped:
        log.warning("dropped %d of %d tile(s) with less than %.0f%% valid pixels", dropped, len(dataset.files),
                    100 * min_valid)
    dataset.files = [dataset.files[i] for i in keep]
    if dataset.labels:
        dataset.labels = [dataset.labels[i] for i in keep]
    dataset.dropped_tiles = dropped
    return dataset
