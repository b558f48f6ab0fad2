"""NumPy ``.npz`` archives in the MedMNIST layout: ``{train,val,test}_images`` and ``..._labels``.

Images are N×H×W (grayscale) or N×H×W×C (C = 1, 3 or 4); labels N×1 or N (one class per image). This
module lists an archive's splits and reads chosen splits as N×C×H×W arrays, checking shapes, dtypes and
finite values; the dataset (datasets/npz.py) holds them in memory.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import UserError
from ..labels import SPLIT_NAMES

# What np.load raises for a damaged archive
ARCHIVE_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError)


def npz_splits(path: Path) -> list[str]:
    """The splits an archive holds, in train/val/test order."""
    keys = npz_keys(path)
    return [s for s in SPLIT_NAMES if f"{s}_images" in keys]


def npz_keys(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"npz file not found: {path}")
    try:
        with np.load(path) as archive:
            return list(archive.files)
    except ARCHIVE_ERRORS as e:
        raise UserError(f"{path}: not a readable .npz archive ({type(e).__name__})") from None


def read_npz_splits(path: Path, splits: Sequence[str], labeled: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The images (N×C×H×W) of each split and, when ``labeled``, their labels (N int64)."""
    images, labels = [], []
    try:
        with np.load(path) as archive:
            for s in splits:
                images.append(_as_nchw(archive[f"{s}_images"], path, s))
                if labeled:
                    if f"{s}_labels" not in archive.files:
                        raise UserError(f"{path}: no '{s}_labels' array for labelled use")
                    labels.append(_as_labels(archive[f"{s}_labels"], path, s, len(images[-1])))
    except ARCHIVE_ERRORS as e:
        raise UserError(f"{path}: cannot read arrays ({type(e).__name__}: {e})") from None
    return images, labels


def _as_nchw(array: np.ndarray, path: Path, split: str) -> np.ndarray:
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim == 4 and array.shape[-1] in (1, 3, 4):
        array = array.transpose(0, 3, 1, 2)
    else:
        raise UserError(f"{path}: {split}_images has shape {array.shape}; expected N×H×W or N×H×W×C")
    if array.dtype.name not in ("uint8", "uint16", "int16", "float32"):
        raise UserError(f"{path}: {split}_images has dtype {array.dtype}; expected uint8, uint16, int16 or float32")
    if array.dtype.kind == "f":  # NaN/inf would train into a NaN loss blamed on the learning rate
        bad = ~np.isfinite(array).reshape(len(array), -1).all(axis=1)
        if bad.any():
            first = np.nonzero(bad)[0][:5].tolist()
            raise UserError(f"{path}: {int(bad.sum())} of {len(array)} {split}_images hold NaN or infinite values "
                            f"(indices {first}{', ...' if bad.sum() > 5 else ''})")
    return np.ascontiguousarray(array)


def _as_labels(array: np.ndarray, path: Path, split: str, n: int) -> np.ndarray:
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise UserError(
            f"{path}: {split}_labels has shape {array.shape}; multi-label targets are not supported "
            "(one class per image)"
        )
    if len(array) != n:
        raise UserError(f"{path}: {split}_labels has {len(array)} rows for {n} images")
    return array.astype(np.int64)
