"""Image folders: every image file under a root (recursively), optionally labelled by subfolder.

The dataset scans headers at construction so a corrupt file, a non-image file or a channel count that
differs from the rest fails before training, naming the file; ``skip_bad=True`` drops such files and
counts them instead.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..errors import UserError
from .readers import ImageInfo, probe_image, read_image

log = logging.getLogger(__name__)

DEFAULT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def find_images(root: Path, extensions: Sequence[str] = DEFAULT_EXTENSIONS) -> list[Path]:
    root = Path(root)
    if not root.exists():
        raise UserError(f"data folder not found: {root}")
    if root.is_file():
        raise UserError(f"--data must be a folder of images, got a file: {root}")
    exts = {e.lower() for e in extensions}
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in exts)
    if not files:
        raise UserError(f"no images ({', '.join(sorted(exts))}) found under {root}")
    return files


def resize_to_square(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize so the shorter side is ``size`` (antialiased), then centre-crop to size × size.

    Keeps the input dtype: integer images are rounded and clamped back to their range.
    """
    _, h, w = image.shape
    if h == size and w == size:
        return image
    if min(h, w) != size:
        scale = size / min(h, w)
        new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
        resized = F.interpolate(
            image[None].float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )[0]
        if not image.dtype.is_floating_point:
            info = torch.iinfo(image.dtype)
            resized = resized.round().clamp(info.min, info.max)
        image = resized.to(image.dtype)
        h, w = new_h, new_w
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top : top + size, left : left + size]


class ImageFolderDataset(Dataset):
    """Samples ``{"image": C×S×S tensor (native dtype), "label"?: int, "meta": {"path": str}}``.

    With ``labeled=True`` the first folder level under ``root`` names the class (class-per-subfolder).
    """

    def __init__(
        self,
        root: str | Path,
        image_size: int,
        *,
        labeled: bool = False,
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        skip_bad: bool = False,
        files: Sequence[Path] | None = None,
    ) -> None:
        self.root = Path(root)
        self.image_size = image_size
        self.labeled = labeled
        candidates = list(files) if files is not None else find_images(self.root, extensions)
        self.files, self.info, self.skipped = _scan(candidates, skip_bad)
        if labeled:
            names = [self._class_name(p) for p in self.files]
            self.classes = sorted(set(names))
            index = {c: i for i, c in enumerate(self.classes)}
            self.labels = [index[n] for n in names]
        else:
            self.classes, self.labels = [], []

    def _class_name(self, path: Path) -> str:
        parts = path.relative_to(self.root).parts
        if len(parts) < 2:
            raise UserError(f"{path}: labelled image folders need one subfolder per class")
        return parts[0]

    @property
    def in_chans(self) -> int:
        return self.info.channels

    @property
    def dtype(self) -> torch.dtype:
        return torch.from_numpy(np.zeros(0, dtype=self.info.dtype)).dtype

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.files[index]
        array = read_image(path)
        if array.shape[0] != self.info.channels:
            raise UserError(f"{path}: {array.shape[0]} channels, expected {self.info.channels}")
        image = resize_to_square(torch.from_numpy(array), self.image_size)
        sample: dict[str, Any] = {"image": image, "meta": {"path": str(path)}}
        if self.labeled:
            sample["label"] = self.labels[index]
        return sample


def _scan(files: Sequence[Path], skip_bad: bool) -> tuple[list[Path], ImageInfo, int]:
    """Probe every header; all images must share channel count and dtype."""
    good: list[Path] = []
    reference: ImageInfo | None = None
    skipped = 0
    for path in files:
        try:
            info = probe_image(path)
            if reference is not None and (info.channels, info.dtype) != (reference.channels, reference.dtype):
                raise UserError(
                    f"{path}: {info.channels} channel(s) of {info.dtype}, but {good[0]} has "
                    f"{reference.channels} of {reference.dtype}; one folder must hold one kind of image"
                )
        except UserError:
            if not skip_bad:
                raise
            skipped += 1
            continue
        reference = reference or info
        good.append(path)
    if skipped:
        log.warning("skipped %d unreadable or mismatched image(s)", skipped)
    if reference is None:
        raise UserError("no readable images left after skipping bad files")
    return good, reference, skipped
