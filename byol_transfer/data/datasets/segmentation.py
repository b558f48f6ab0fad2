"""Segmentation pairs: ``images/`` + ``masks/`` matched by file stem, across different extensions.

``images/0.tif`` pairs with ``masks/0.png``; with ``mask_suffix="_mask"``, ``images/a.jpg`` pairs with
``masks/a_mask.png``. Without a declared suffix, one that every mask shares is detected (breast-ultrasound
exports name masks ``benign (1)_mask.png``) and logged. Several masks of one image (``a_mask.png``,
``a_mask_1.png``, ... as when an image shows two lesions) are merged into one by union when they are binary
(classes 0/1); several multi-class masks of one image are refused, naming the files. At construction every
pair is checked from headers: a mask without an image, an image without a mask, two files with one stem,
and a mask whose size differs from its image's fail naming the file (or are skipped and counted with
``skip_bad``). Mask values are checked against the declared mapping when a sample is read (see masks.py),
and images for NaN/inf and all-nodata pixels (see pixel_checks.py).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ...errors import UserError
from ..badfiles import BadFileError, SkipLog
from ..bands import BandSpec, output_band_names, resolve_bands
from ..formats.dispatch import IMAGE_SUFFIXES, decode, probe_image
from ..formats.geotiff import TIFF_SUFFIXES
from ..formats.types import ImageInfo
from ..image_files import find_images
from ..masks import MaskMapping, read_mask
from ..resize import UpscaleLog, resize_mask_to_square, resize_to_square
from .base import BandDataset, check_same_kind

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
        mask_suffix: str | None = None,
        mapping: Mapping[Any, int] | None = None,
        classes: Sequence[str] | None = None,
        images_dir: str = "images",
        masks_dir: str = "masks",
        bands: Sequence[BandSpec] | None = None,
        band_names: Sequence[str] | None = None,
        channels: int | None = None,
        skip_bad: bool = False,
        nodata: float | None = None,
        only: Sequence[str] | None = None,
        only_source: str = "",
    ) -> None:
        """``mask_suffix=None`` detects a suffix every mask shares ("" when masks are named as their images).

        ``only``: image file names relative to ``images_dir`` (a split list, named ``only_source`` in errors);
        the pairs are exactly those images and their masks, and a listed name that is not there is an error.
        """
        self.root = Path(root)
        self.image_size = image_size
        self.skip_bad = skip_bad
        self.nodata = nodata
        self.mapping = MaskMapping(mapping, where=f"{self.root}: mask mapping")
        self.classes = list(classes or [])
        if not is_segmentation_folder(self.root, images_dir, masks_dir):
            raise UserError(f"{self.root}: a segmentation folder needs {images_dir}/ and {masks_dir}/ subfolders")
        images = find_images(self.root / images_dir, IMAGE_SUFFIXES)
        masks = find_images(self.root / masks_dir, IMAGE_SUFFIXES)
        if mask_suffix is None:
            mask_suffix = detect_mask_suffix(images, masks, self.root / images_dir, self.root / masks_dir)
        if only is not None:
            images, masks = _listed(images, masks, only, only_source, self.root / images_dir,
                                    self.root / masks_dir, mask_suffix)
        groups, skips = _pair(images, masks, mask_suffix, self.root / images_dir, self.root / masks_dir, skip_bad)
        self.pairs: list[tuple[Path, Path]] = []  # (image, its first mask)
        self.mask_groups: list[tuple[Path, ...]] = []  # every mask of that image (merged when read)
        reference: ImageInfo | None = None
        upscaled = UpscaleLog(image_size)
        for image, group in groups:
            try:
                info = probe_image(image)
                for mask in group:
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
            self.pairs.append((image, group[0]))
            self.mask_groups.append(group)
            upscaled.add(image, info)
        skips.report()
        upscaled.report(len(self.pairs))
        merged = sum(len(g) > 1 for g in self.mask_groups)
        if merged:
            log.info("%d image(s) have several masks (e.g. %s): merged by union when read", merged,
                     ", ".join(m.name for m in next(g for g in self.mask_groups if len(g) > 1)))
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

    def _merged_mask(self, image_path: Path, group: Sequence[Path]) -> np.ndarray:
        """One H×W class mask; several binary masks of one image are merged by union."""
        masks = [self.mapping(read_mask(path), path) for path in group]
        if len(masks) == 1:
            return masks[0]
        # binary: background plus one foreground value across all the masks (0/1, or 0/255 unmapped)
        values = set().union(*(np.unique(m).tolist() for m in masks))
        if len(values) > 2 or len(self.classes) > 2:
            raise BadFileError(
                f"{image_path}: {len(masks)} masks ({', '.join(p.name for p in group)}) for one image of a "
                f"multi-class task (values {sorted(values)}); only binary masks are merged: combine them into one mask"
            )
        return np.maximum.reduce(masks)

    def _read(self, index: int) -> dict[str, Any]:
        image_path, mask_path = self.pairs[index]
        decoded = self.checked(decode(image_path, self.bands), image_path)
        mask = self._merged_mask(image_path, self.mask_groups[index])
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
) -> tuple[list[tuple[Path, tuple[Path, ...]]], SkipLog]:
    """Match by stem (relative folder included); the mask stem is the image stem + ``suffix``, and with a
    suffix, ``stem + suffix + "_<n>"`` names further masks of the same image."""
    skips = SkipLog("image/mask file(s)")
    extra = re.compile(re.escape(suffix) + r"_(\d+)$") if suffix else None

    def fail(message: str) -> None:
        if not skip_bad:
            raise BadFileError(message)
        skips.add(BadFileError(message))

    def keyed(files: list[Path], root: Path, strip: str) -> dict[str, list[tuple[int, Path]]]:
        out: dict[str, list[tuple[int, Path]]] = {}
        for p in files:
            rel, number = _stem(p, root), -1
            if strip:
                found = extra.search(rel) if extra else None
                if found:
                    rel, number = rel[: found.start()], int(found.group(1))
                elif rel.endswith(strip):
                    rel = rel[: -len(strip)]
                else:
                    fail(f"{p}: mask name does not end with the mask suffix {strip!r}")
                    continue
            same = [q for n, q in out.get(rel, []) if n == number]
            if same:
                fail(f"{p}: two files with the stem {rel!r} ({same[0].name} and {p.name})")
                continue
            out.setdefault(rel, []).append((number, p))
        return out

    by_image = {stem: files[0][1] for stem, files in keyed(images, image_root, "").items()}
    by_mask = keyed(masks, mask_root, suffix)
    for stem in sorted(set(by_mask) - set(by_image)):
        fail(f"{by_mask[stem][0][1]}: mask with no image (no {image_root.name}/{stem}.*)")
    for stem in sorted(set(by_image) - set(by_mask)):
        fail(f"{by_image[stem]}: image with no mask (no {mask_root.name}/{stem}{suffix}.*)")
    pairs = [(by_image[s], tuple(p for _, p in sorted(by_mask[s], key=lambda t: t[0])))
             for s in sorted(set(by_image) & set(by_mask), key=_natural)]
    return pairs, skips


def _listed(images: list[Path], masks: list[Path], names: Sequence[str], source: str, image_root: Path,
            mask_root: Path, suffix: str) -> tuple[list[Path], list[Path]]:
    """The listed images and the masks of their stems (the rest of the folder belongs to other splits)."""
    by_name = {p.relative_to(image_root).as_posix(): p for p in images}
    missing = next((n for n in names if n not in by_name), None)
    if missing is not None:
        raise UserError(f"split list {source}: lists {missing!r}, which is not in {image_root}")
    chosen = [by_name[n] for n in names]
    stems = {_stem(p, image_root) for p in chosen}
    extra = re.compile(re.escape(suffix) + r"_\d+$") if suffix else None

    def image_stem(mask: Path) -> str:
        rel = _stem(mask, mask_root)
        found = extra.search(rel) if extra else None
        if found:
            return rel[: found.start()]
        return rel[: -len(suffix)] if suffix and rel.endswith(suffix) else rel

    return chosen, [m for m in masks if image_stem(m) in stems]


def detect_mask_suffix(images: list[Path], masks: list[Path], image_root: Path, mask_root: Path) -> str:
    """The suffix every mask stem adds to its image's stem ("" when the stems match, or no common one).

    Each mask is matched to the longest image stem its own stem starts with; ``_<n>`` after the common
    suffix marks a further mask of the same image.
    """
    stems = {_stem(p, image_root) for p in images}
    mask_stems = [_stem(p, mask_root) for p in masks]
    if all(m in stems for m in mask_stems):
        return ""
    suffixes = set()
    for m in mask_stems:
        prefix = next((m[:k] for k in range(len(m) - 1, 0, -1) if m[:k] in stems), None)
        if prefix is None:
            return ""
        suffixes.add(m[len(prefix):])
    base = min(suffixes, key=len)
    if not all(s == base or re.fullmatch(re.escape(base) + r"_\d+", s) for s in suffixes):
        return ""
    log.info("every mask is named <image stem>%s (e.g. %s): pairing images with that mask suffix "
             "(--mask-suffix to choose another)", base, next(p.name for p in masks if _stem(p, mask_root).endswith(base)))
    return base


def _stem(path: Path, root: Path) -> str:
    return path.relative_to(root).with_suffix("").as_posix()


def _natural(stem: str) -> tuple:
    """"2" before "10": water_seg names its files 0.tif … 305.tif."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", stem))
