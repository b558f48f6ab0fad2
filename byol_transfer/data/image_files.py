"""Finding image files under a folder: every one (a dataset's listing) or the first (layout detection).

Shared by the datasets and by discover.py, so it lives beside them rather than in either: detection must
not import a dataset class to look at a folder.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Sequence

from ..errors import UserError

log = logging.getLogger(__name__)

DEFAULT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")


def find_images(root: Path, extensions: Sequence[str] = DEFAULT_EXTENSIONS) -> list[Path]:
    """Every file under ``root`` with an image suffix, sorted; hidden files and folders are skipped."""
    root = Path(root)
    if not root.exists():
        raise UserError(f"data folder not found: {root}")
    if root.is_file():
        raise UserError(f"--data must be a folder of images, got a file: {root}")
    exts = {e.lower() for e in extensions}
    files, ignored = [], []
    # os.walk and plain strings: pathlib costs seconds on EuroSAT's 27,000 files
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # .ipynb_checkpoints and the like
        for name in names:
            if name.startswith("."):
                continue  # .DS_Store and other hidden files are never data
            (files if os.path.splitext(name)[1].lower() in exts else ignored).append(os.path.join(folder, name))
    if ignored:
        kinds = sorted({os.path.splitext(p)[1].lower() or os.path.basename(p) for p in ignored})
        log.info("ignored %d non-image file(s) under %s (%s)", len(ignored), root, ", ".join(kinds[:8]))
    if not files:
        raise UserError(f"no images ({', '.join(sorted(exts))}) found under {root}")
    return [Path(p) for p in sorted(files)]


_MASK_BESIDE_IMAGE = re.compile(r"^(?P<image>.+)_mask(?:_\d+)?$")


def drop_masks_beside_images(files: Sequence[Path]) -> list[Path]:
    """Leave out ``x_mask.png`` / ``x_mask_1.png`` when ``x.*`` lies in the same folder: masks, not images.

    The breast-ultrasound set (BUSI) ships ``benign/benign (1).png`` next to ``benign/benign (1)_mask.png``;
    read as a class folder, every mask would become a training image of its class.
    """
    stems = {(p.parent, p.stem) for p in files}
    masks = [p for p in files if (m := _MASK_BESIDE_IMAGE.match(p.stem)) and (p.parent, m.group("image")) in stems]
    if not masks:
        return list(files)
    log.warning("left out %d mask file(s) lying beside their images (e.g. %s); images/ + masks/ folders are "
                "read as segmentation data", len(masks), masks[0].name)
    dropped = set(masks)
    return [p for p in files if p not in dropped]


def first_image(root: Path, extensions: Sequence[str] = DEFAULT_EXTENSIONS) -> Path:
    """The first image under ``root`` in sorted order, without listing everything (layout detection)."""
    exts = {e.lower() for e in extensions}
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(names):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in exts:
                return Path(folder) / name
    raise UserError(f"no images ({', '.join(sorted(exts))}) found under {root}")
