"""MedMNIST-style ``.npz`` archives as a dataset: the chosen split held in memory as one tensor.

MedMNIST files are a few MB to a few GB, so the split is loaded once (the archive format itself is read
in formats/npz.py); the splits are the dataset's own and are never reshuffled here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ...errors import UserError
from ..formats.npz import npz_keys, npz_splits, read_npz_splits
from ..resize import resize_to_square


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
                f"train_images, train_labels, val_..., test_...; found {', '.join(npz_keys(self.path))})"
            )
        self.split = split or "train"
        if self.split == "all":
            chosen = available
        elif self.split in available:
            chosen = [self.split]
        else:
            raise UserError(f"{self.path}: no split {self.split!r} (has: {', '.join(available)}, all)")
        images, labels = read_npz_splits(self.path, chosen, labeled)
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

