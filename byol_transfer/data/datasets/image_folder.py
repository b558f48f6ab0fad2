"""Image folders and GeoTIFF tile folders: every image file under a root (recursively), optionally labelled.

Labels come from the first subfolder level (class-per-subfolder) or from an explicit file list with labels
(a label CSV, see labels.py); files are found by image_files.py. The dataset scans headers at construction
so a corrupt or truncated file, a file with an image suffix that is no image, or a band count that differs
from the rest (or from the data card) fails before training, naming the file; ``skip_bad=True`` drops such
files and counts them instead. Files with other suffixes (notes, CSVs) are ignored and counted in the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ...errors import UserError
from ..badfiles import BadFileError, SkipLog
from ..bands import BandSpec, output_band_names, resolve_bands
from ..formats.dispatch import decode, probe_image
from ..formats.geotiff import TIFF_SUFFIXES
from ..formats.types import ImageInfo
from ..image_files import DEFAULT_EXTENSIONS, find_images
from ..labels import class_of, index_labels
from ..resize import UpscaleLog, resize_to_square
from .base import BandDataset, check_same_kind


class ImageFolderDataset(BandDataset):
    """Samples ``{"image": C×S×S tensor (native dtype), "label"?: int, "meta": {"path": str, ...}}``.

    GeoTIFF folders add ``meta["crs"]`` (a string, "" when none) and ``meta["transform"]`` (the 6 affine
    coefficients as a float64 tensor). ``image_size=None`` keeps every image at its own size.
    """

    def __init__(
        self,
        root: str | Path,
        image_size: int | None,
        *,
        labeled: bool = False,
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        skip_bad: bool = False,
        files: Sequence[Path] | None = None,
        labels: Sequence[int] | None = None,
        classes: Sequence[str] | None = None,
        bands: Sequence[BandSpec] | None = None,
        band_names: Sequence[str] | None = None,
        channels: int | None = None,
        nodata: float | None = None,
    ) -> None:
        self.root = Path(root)
        self.image_size = image_size
        self.skip_bad = skip_bad
        self.nodata = nodata
        candidates = list(files) if files is not None else find_images(self.root, extensions)
        if labels is not None and len(labels) != len(candidates):
            raise ValueError("labels must align with files")
        if labeled and labels is None:
            names = [class_of(p, self.root) for p in candidates]
            labels, classes = index_labels(names, classes, str(self.root))
        self.labeled = labels is not None
        self.classes = list(classes or [])

        kept, self.info, self.skipped = _scan(candidates, skip_bad, channels, image_size)
        self.files = [candidates[i] for i in kept]
        self.bands = resolve_bands(bands, self.info.channels, self.files[0], self.info.band_names, band_names)
        self.labels = [labels[i] for i in kept] if labels is not None else []
        self.georeferenced = all(p.suffix.lower() in TIFF_SUFFIXES for p in self.files)
        self.band_names = output_band_names(self.info.band_names, band_names, self.info.channels, self.bands)

    def __len__(self) -> int:
        return len(self.files)

    def _read(self, index: int) -> dict[str, Any]:
        path = self.files[index]
        decoded = self.checked(decode(path, self.bands), path)
        if decoded.array.shape[0] != self.in_chans or decoded.array.dtype != np.dtype(self.info.dtype):
            raise BadFileError(
                f"{path}: {decoded.array.shape[0]} channel(s) of {decoded.array.dtype}, "
                f"expected {self.in_chans} of {self.info.dtype}"
            )
        image = resize_to_square(torch.from_numpy(decoded.array), self.image_size)
        meta: dict[str, Any] = {"path": str(path)}
        if self.georeferenced:
            meta["crs"] = decoded.crs or ""
            meta["transform"] = torch.tensor(decoded.transform or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), dtype=torch.float64)
        sample: dict[str, Any] = {"image": image, "meta": meta}
        if self.labeled:
            sample["label"] = self.labels[index]
        return sample


def _scan(
    files: Sequence[Path], skip_bad: bool, channels: int | None, image_size: int | None = None
) -> tuple[list[int], ImageInfo, int]:
    """Probe every header; all images must share channel count and dtype (and match ``channels``)."""
    kept: list[int] = []
    reference: ImageInfo | None = None
    skips = SkipLog("image file(s)")
    upscaled = UpscaleLog(image_size)
    for i, path in enumerate(files):
        try:
            info = probe_image(path)
            check_same_kind(path, info, channels, reference, files[kept[0]] if kept else None)
        except UserError as e:
            if not skip_bad:
                raise
            skips.add(e)
            continue
        reference = reference or info
        kept.append(i)
        upscaled.add(path, info)
    skips.report()
    upscaled.report(len(kept))
    if reference is None:
        raise UserError(f"no readable images left after skipping {len(skips)} bad file(s)")
    return kept, reference, len(skips)
