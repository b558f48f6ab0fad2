"""A labelled classification dataset as the sweep and the pretraining monitor see it.

It sits with the features (not with the transfer tasks) because the k-NN monitor of pretraining
reads the same labelled folders, and ``train/`` may not import ``transfer/``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from torch.utils.data import Dataset

from ..errors import UserError


def labels_digest(names: Sequence[str], labels: Sequence[int]) -> str:
    """Identity of a labelled dataset's order: item names (relative paths) and labels, in order."""
    digest = hashlib.sha256()
    for name, label in zip(names, labels):
        digest.update(f"{name}\t{int(label)}\n".encode())
    return digest.hexdigest()


@dataclass
class LabelledData:
    """A labelled dataset: samples with ``"image"``, and labels on the side."""

    dataset: Dataset
    labels: np.ndarray
    classes: list[str]
    names: list[str]  # stable item names (relative paths) for the split file's data digest
    in_chans: int

    @classmethod
    def from_dataset(cls, dataset: Dataset, classes: Sequence[str] | None = None, where: str = "data") -> "LabelledData":
        """From a dataset with ``labels``, ``classes`` and ``in_chans`` (e.g. a labelled ImageFolderDataset).

        With ``classes`` (the training set's), labels are re-indexed by class *name*, so a test folder
        with classes in another order, or missing one, still lines up.
        """
        own_classes = list(getattr(dataset, "classes", []) or [])
        labels = np.asarray(getattr(dataset, "labels", []), dtype=np.int64)
        if not own_classes or len(labels) != len(dataset):  # type: ignore[arg-type]
            raise UserError(f"{where}: needs class labels (one subfolder per class)")
        if classes is not None:
            unknown = [c for c in own_classes if c not in classes]
            if unknown:
                raise UserError(f"{where}: class {unknown[0]!r} does not occur in the training data "
                                f"(classes: {', '.join(classes)})")
            remap = np.array([list(classes).index(c) for c in own_classes])
            labels, own_classes = remap[labels], list(classes)
        if len(own_classes) < 2:
            raise UserError(f"{where}: at least two classes are needed, found {own_classes}")
        files, root = getattr(dataset, "files", None), getattr(dataset, "root", None)
        if files is not None and root is not None:
            names = [Path(p).relative_to(root).as_posix() for p in files]
        else:
            names = [str(i) for i in range(len(labels))]
        return cls(dataset, labels, own_classes, names, int(getattr(dataset, "in_chans")))

    def digest(self) -> str:
        return labels_digest(self.names, self.labels)
