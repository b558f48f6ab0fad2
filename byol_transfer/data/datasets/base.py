"""What every file-backed dataset shares: band selection, dtype, and reads that name a bad file.

The base of image folders, segmentation pairs and scenes (not npz archives, held in memory whole).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..badfiles import BadFileError, read_with_fallback
from ..formats.geotiff import TIFF_SUFFIXES
from ..formats.types import Decoded, ImageInfo
from ..pixel_checks import check_pixels


def torch_dtype(numpy_dtype: str) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=numpy_dtype)).dtype


def check_same_kind(
    path: Path, info: ImageInfo, channels: int | None, reference: ImageInfo | None, reference_path: Path | None
) -> None:
    """A header scan's rule: every image matches the declared band count and the first image's kind."""
    if channels is not None and info.channels != channels:
        raise BadFileError(f"{path}: {info.channels} band(s), but the data card declares {channels}")
    if reference is not None and (info.channels, info.dtype) != (reference.channels, reference.dtype):
        raise BadFileError(
            f"{path}: {info.channels} channel(s) of {info.dtype}, but {reference_path} has "
            f"{reference.channels} of {reference.dtype}; one folder must hold one kind of image"
        )


class BandDataset(Dataset):
    """Base for datasets with ``self.info`` (a probed header), ``self.bands`` (selected band indices or
    None), ``self.skip_bad`` and a ``_read(index)`` that decodes one sample."""

    nodata: float | None = None  # the card's (or the caller's) nodata value; files may declare their own

    def checked(self, decoded: Decoded, path: Path) -> Decoded:
        """``decoded`` after the value checks (NaN/inf, all nodata) that name ``path`` when they fail."""
        nodata = self.nodata if self.nodata is not None else decoded.nodata
        check_pixels(decoded.array, path, nodata, zero_is_nodata=path.suffix.lower() in TIFF_SUFFIXES)
        return decoded

    @property
    def in_chans(self) -> int:
        return len(self.bands) if self.bands is not None else self.info.channels

    @property
    def dtype(self) -> torch.dtype:
        return torch_dtype(self.info.dtype)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return read_with_fallback(self._read, index, len(self), self.skip_bad)
