"""Segmentation pairs: ``images/`` + ``masks/`` matched by file stem, across different extensions.

``images/0.tif`` pairs with ``masks/0.png``; with ``mask_suffix="_mask"``, ``images/a.jpg`` pairs with
``masks/a_mask.png``. At construction every pair is checked from headers: a mask without an image, an
image without a mask, two files with one stem, and a mask whose size differs from its image's fail
naming the file (or are skipped and counted with ``skip_bad``). Mask values are checked against the
declared mapping when a sample is read (see masks.py).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from .band_dataset import BandDataset, check_same_kind
from ..errors import UserError
from .badfiles import BadFileError, SkipLog
from .geotiff import BandSpec, output_band_names, resolve_bands
from .image_folder import find_images
from .masks import MaskMapping, read_mask
from .readers import IMAGE_SUFFIXES, TIFF_SUFFIXES, ImageInfo, decode, probe_image
from .resize import resize_mask_to_square, resize_to_square

log = logging.getLogger(__name__)


def is_segmentation_folder(root: Path, images_dir: str = "images", masks_dir: str = "masks") -> bool:
    return (root / images_dir).is_dir() and (root / masks_dir).is_dir()


class SegmentationDataset(BandDataset):
    """Samples ``{"image": C×S×S (native dtype), "mask": S×S long, "meta": {"path", "mask_path", ...}}``."""

    def __init__(
        self,
        root: str | Path,
        image_size: int | None,
        *,
        mask_suffix: str = "",
        mapping: Mapping[Any, int] | None = None,
        classes: Sequence[str] | None = None,
        images_dir: str = "images",
        masks_dir: str = "masks",
        bands: Sequence[BandSpec] | None = None,
        band_names: Sequence[str] | None = None,
        channels: int | None = None,
        skip_bad: bool = False,
    ) -> None:
        self.root = Path(root)
        self.image_size = image_size
        self.skip_bad = skip_bad
        self.mapping = MaskMapping(mapping, where=f"{self.root}: mask mapping")
        self.classes = list(classes or [])
        if not is_segmentation_folder(self.root, images_dir, masks_dir):
            raise UserError(f"{self.root}: a segmentation folder needs {images_dir}/ and {masks_dir}/ subfolders")
        images = find_images(self.root / images_dir, IMAGE_SUFFIXES)
        masks = find_images(self.root / masks_dir, IMAGE_SUFFIXES)
        pairs, skips = _pair(images, masks, mask_suffix, self.root / images_dir, self.root / masks_dir, skip_bad)
        self.pairs: list[tuple[Path, Path]] = []
        reference: ImageInfo | None = None
        for image, mask in pairs:
            try:
                info = probe_image(image)
                mask_info = probe_image(mask)
                if (mask_info.height, mask_info.width) != (info.height, info.width):
                    raise BadFileError(
                        f"{mask}: mask is {mask_info.width}×{mask_info.height} px but its image {image.name} "
                        f"is {info.width}×{info.height}"
                    )
                check_same_kind(image, info, channels, reference, self.pairs[0][0] if self.pairs else None)
            except UserError as e:
                if not skip_bad:
                    raise
                skips.add(e)
                continue
            reference = reference or info
            self.pairs.append((image, mask))
        skips.report()
        self.skipped = len(skips)
        if reference is None:
            raise UserError(f"{self.root}: no readable image/mask pairs")
        self.info = reference
        self.bands = resolve_bands(bands, reference.channels, self.pairs[0][0], reference.band_names, band_names)
        self.band_names = output_band_names(reference.band_names, band_names, reference.channels, self.bands)
        self.georeferenced = all(p.suffix.lower() in TIFF_SUFFIXES for p, _ in self.pairs)

    @property
    def files(self) -> list[Path]:
        return [image for image, _ in self.pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def _read(self, index: int) -> dict[str, Any]:
        image_path, mask_path = self.pairs[index]
        decoded = decode(image_path, self.bands)
        mask = self.mapping(read_mask(mask_path), mask_path)
        if mask.shape != decoded.array.shape[1:]:
            raise BadFileError(f"{mask_path}: mask is {mask.shape} but its image is {decoded.array.shape[1:]}")
        if self.classes and int(mask.max()) >= len(self.classes):
            raise BadFileError(
                f"{mask_path}: class {int(mask.max())} but only {len(self.classes)} classes are declared"
            )
        meta: dict[str, Any] = {"path": str(image_path), "mask_path": str(mask_path)}
        if self.georeferenced:
            meta["crs"] = decoded.crs or ""
            meta["transform"] = torch.tensor(decoded.transform or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0), dtype=torch.float64)
        return {
            "image": resize_to_square(torch.from_numpy(decoded.array), self.image_size),
            "mask": resize_mask_to_square(torch.from_numpy(mask), self.image_size),
            "meta": meta,
        }


def _pair(
    images: list[Path], masks: list[Path], suffix: str, image_root: Path, mask_root: Path, skip_bad: bool
) -> tuple[list[tuple[Path, Path]], SkipLog]:
    """Match by stem (relative folder included); the mask stem is the image stem + ``suffix``."""
    skips = SkipLog("image/mask file(s)")

    def fail(message: str) -> None:
        if not skip_bad:
            raise BadFileError(message)
        skips.add(BadFileError(message))

    def keyed(files: list[Path], root: Path, strip: str) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for p in files:
            rel = p.relative_to(root).with_suffix("").as_posix()
            if strip:
                if not rel.endswith(strip):
                    fail(f"{p}: mask name does not end with the mask suffix {strip!r}")
                    continue
                rel = rel[: -len(strip)]
            if rel in out:
                fail(f"{p}: two files with the stem {rel!r} ({out[rel].name} and {p.name})")
                continue
            out[rel] = p
        return out

    by_image = keyed(images, image_root, "")
    by_mask = keyed(masks, mask_root, suffix)
    for stem in sorted(set(by_mask) - set(by_image)):
        fail(f"{by_mask[stem]}: mask with no image (no {image_root.name}/{stem}.*)")
    for stem in sorted(set(by_image) - set(by_mask)):
        fail(f"{by_image[stem]}: image with no mask (no {mask_root.name}/{stem}{suffix}.*)")
    pairs = [(by_image[s], by_mask[s]) for s in sorted(set(by_image) & set(by_mask), key=_natural)]
    return pairs, skips


def _natural(stem: str) -> tuple:
    """"2" before "10": water_seg names its files 0.tif … 305.tif."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", stem))
