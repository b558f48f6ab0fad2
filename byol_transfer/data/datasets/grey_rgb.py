"""Grey images stored as 3-channel files (MRI and ultrasound exports, scanned X-rays saved as RGB JPEG).

A 1-channel recipe or export refuses 3-channel data; when a sample of the files shows three identical
channels (within GREY_TOLERANCE levels), the dataset keeps the first one instead (logged). Files with real colour
are refused with the way out: ``--bands 1`` keeps the first channel anyway, or a 3-channel recipe uses all three.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ...errors import UserError
from ..formats.dispatch import read_image
from .base import BandDataset

log = logging.getLogger(__name__)

SAMPLE_FILES = 8  # spread over the dataset: enough to tell a grey export from colour photos


# Stored levels the three channels of a grey image may differ by: some JPEG encoders' colour conversion
# rounds R, G and B of one grey value differently (Pillow's libjpeg keeps them equal).
GREY_TOLERANCE = 2


def is_grey_rgb(array: np.ndarray) -> bool:
    """A C×H×W array with 3 (or 4, with alpha) channels whose first three agree within GREY_TOLERANCE."""
    if array.shape[0] not in (3, 4):
        return False
    first = array[0].astype(np.float64)
    return all(float(np.abs(first - array[c]).max()) <= GREY_TOLERANCE for c in (1, 2))


def use_one_channel_if_grey(dataset, wanted: int | None, where: str | Path) -> None:  # noqa: ANN001
    """For ``wanted == 1`` and 3-channel files without a band choice: keep band 1 if the channels agree."""
    if wanted != 1 or not isinstance(dataset, BandDataset) or dataset.bands is not None:
        return
    if dataset.info.channels != 3 or not hasattr(dataset, "files"):  # 4+ bands: multispectral, not grey
        return
    files = dataset.files
    n = min(SAMPLE_FILES, len(files))
    picks = sorted({round(i * (len(files) - 1) / max(n - 1, 1)) for i in range(n)})
    for i in picks:
        if not is_grey_rgb(read_image(files[i])):
            raise UserError(
                f"{where}: 1 channel expected, but the images have {dataset.info.channels} that differ "
                f"(e.g. {files[i]}); use a {dataset.info.channels}-channel recipe, or keep the first channel with "
                "--bands 1 (label-efficiency, segment, stats)"
            )
    dataset.bands = [1]
    dataset.band_names = []
    log.info("images are grey stored as RGB (identical channels in %d sampled files): using one channel", len(picks))
