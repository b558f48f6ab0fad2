"""NumPy ``.npz`` archives in the MedMNIST layout: ``{train,val,test}_images`` and ``..._labels``.

Images are N×H×W (grayscale) or N×H×W×C (C = 1 or 3), uint8 in MedMNIST; labels N×1 or N (one class
per image). The chosen split is loaded into memory once (MedMNIST files are a few MB to a few GB); the
splits are the dataset's own and are never reshuffled here.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import UserError
from .labels import SPLIT_NAMES
from .resize import resize_to_square


def npz_splits(path: Path) -> list[str]:
    """The splits an archive holds, in train/val/test order."""
    keys = _keys(path)
    return [s for s in SPLIT_NAMES if f"{s}_images" in keys]


def _keys(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"npz file not found: {path}")
    try:
        with np.load(path) as archive:
            return list(archive.files)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise UserError(f"{path}: not a readable .npz archive ({type(e).__name__})") from None


class NpzDataset(Dataset):
    """Samples ``{"image": C×S×S uint8 (native dtype), "label"?: int, "meta": {"path", "index"}}``.

    ``split`` is ``train``, ``val``, ``test`` or ``all`` (every split, for unlabeled pretraining that may
    see everything); the default is ``train``.
    """

    def __init__(
        self,
        path: str | Path,
        image_size: int | None,
        *,
        split: str | None = None,
        labeled: bool = False,
        classes: Sequence[str] | None = None,
        channels: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.image_size = image_size
        available = npz_splits(self.path)
        if not available:
            raise UserError(
                f"{self.path}: no '<split>_images' array (expected the MedMNIST layout: "
                f"train_images, train_labels, val_..., test_...; found {', '.join(_keys(self.path))})"
            )
        self.split = split or "train"
        if self.split == "all":
            chosen = available
        elif self.split in available:
            chosen = [self.split]
        else:
            raise UserError(f"{self.path}: no split {self.split!r} (has: {', '.join(available)}, all)")
        images, labels = [], []
        try:
            with np.load(self.path) as archive:
                for s in chosen:
                    images.append(_as_nchw(archive[f"{s}_images"], self.path, s))
                    if labeled:
                        if f"{s}_labels" not in archive.files:
                            raise UserError(f"{self.path}: no '{s}_labels' array for labelled use")
                        labels.append(_as_labels(archive[f"{s}_labels"], self.path, s, len(images[-1])))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise UserError(f"{self.path}: cannot read arrays ({type(e).__name__}: {e})") from None
        self.images = torch.from_numpy(np.concatenate(images) if len(images) > 1 else images[0])
        if channels is not None and self.images.shape[1] != channels:
            raise UserError(f"{self.path}: {self.images.shape[1]} channel(s), but the data card declares {channels}")
        self.labeled = labeled
        self.labels: list[int] = np.concatenate(labels).tolist() if labeled else []
        if labeled:
            top = max(self.labels)
            self.classes = list(classes) if classes is not None else [str(i) for i in range(top + 1)]
            if top >= len(self.classes) or min(self.labels) < 0:
                raise UserError(
                    f"{self.path}: label {top if top >= len(self.classes) else min(self.labels)} is outside the "
                    f"{len(self.classes)} declared classes ({', '.join(self.classes)})"
                )
        else:
            self.classes = list(classes or [])
        self.band_names: list[str] = []

    @property
    def in_chans(self) -> int:
        return int(self.images.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        return self.images.dtype

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        image = resize_to_square(self.images[index], self.image_size)
        sample: dict[str, Any] = {"image": image, "meta": {"path": str(self.path), "index": index}}
        if self.labeled:
            sample["label"] = self.labels[index]
        return sample


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
