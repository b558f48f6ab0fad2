"""Committed split lists: one image file name per line, relative to the dataset's images folder.

A card's ``split_lists`` (``{train: splits/train.txt, test: splits/test.txt}``) name files that live in
the repository beside the card, so their paths are relative to the **card's** folder; a card's
``split_files`` (label CSVs) live beside the data and are relative to ``--data``. Lists are used for
segmentation pairs, where a split has no labels to carry. ``seeded_split`` is the one definition of
how the committed lists were drawn (``datasets/make_splits.py`` writes them), so they can be redrawn
and compared when the data are present.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from .formats.dispatch import IMAGE_SUFFIXES
from .image_files import find_images

log = logging.getLogger(__name__)


def read_split_list(path: Path) -> list[str]:
    """The names in a split list (blank lines and ``#`` comments skipped); duplicates are an error."""
    try:
        text = path.read_text()
    except OSError as e:
        raise UserError(f"split list {path}: cannot read it ({e.strerror or e})") from None
    names = [line.strip() for line in text.splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UserError(f"split list {path}: {name!r} is listed twice")
        seen.add(name)
    if not names:
        raise UserError(f"split list {path}: lists no image names")
    return names


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def natural_key(name: str) -> list:
    """``2.tif`` before ``10.tif``: the order the split was drawn in (digits compared as numbers)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", Path(name).stem)]


def seeded_split(names: Sequence[str], test_fraction: float = 0.2, seed: int = 0) -> dict[str, list[str]]:
    """Names (sorted naturally) → {"train": [...], "test": [...]}: a seeded permutation, the first
    round(test_fraction · n) positions are test. Each list is returned in the natural order."""
    ordered = sorted(names, key=natural_key)
    order = np.random.default_rng(seed).permutation(len(ordered))
    n_test = int(round(test_fraction * len(ordered)))
    test = {ordered[i] for i in order[:n_test]}
    return {"train": [n for n in ordered if n not in test], "test": [n for n in ordered if n in test]}


def lists_fit(card, images: Path) -> bool:  # noqa: ANN001 (a DataCard; cards.py imports nothing from here)
    """Whether ``images`` is the card's own copy of the data: it holds as many images as the lists name
    together. A subset or a different folder read with the card (for its bands and scaling) has another
    count and is read whole, as a card's missing ``split_files`` are; a copy of the right size that lacks
    a listed name is an error when the split is read."""
    total = sum(len(read_split_list(card.split_list_path(s))) for s in card.split_lists)
    held = len(find_images(images, IMAGE_SUFFIXES)) if images.is_dir() else 0
    if held != total:
        log.info("card %r: %s holds %d images, its split lists name %d: not the card's copy of the data, "
                 "so every pair is read (ask for a split to use the lists anyway)", card.name, images, held, total)
    return held == total
