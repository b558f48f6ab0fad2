"""Hold a whole dataset in memory, decoded, as one tensor per field.

Decoding a small tile costs far more than a BYOL step can spare on 2 cores (opening one GeoTIFF takes
~1 ms; a resnet18 64 px step has ~5-10 ms per image for everything). Small datasets — EuroSAT's 27,000
RGB tiles are 330 MB as uint8 — are decoded once and then served by indexing, which costs microseconds.
The tensors are allocated before DataLoader workers fork, so workers share them instead of copying.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ...errors import UserError
from ..threads import single_threaded

log = logging.getLogger(__name__)

DEFAULT_BUDGET_BYTES = 4 << 30  # 4 GiB of decoded pixels


def cache_budget() -> int:
    """What ``cache="auto"`` may hold: 4 GiB, or a quarter of the machine's memory if that is less."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not Linux/macOS
        return DEFAULT_BUDGET_BYTES
    return min(DEFAULT_BUDGET_BYTES, memory // 4)


def cached_size(dataset: Dataset) -> int:
    """Bytes the decoded images would take, from the first sample."""
    image = dataset[0]["image"]
    return len(dataset) * image.numel() * image.element_size()  # type: ignore[arg-type]


class InMemoryDataset(Dataset):
    """Decodes every sample of ``dataset`` once; attributes (in_chans, dtype, classes, ...) pass through."""

    def __init__(self, dataset: Dataset, budget_bytes: int = DEFAULT_BUDGET_BYTES, num_workers: int = 0) -> None:
        self.dataset = dataset
        n = len(dataset)  # type: ignore[arg-type]
        first = dataset[0]
        image = first["image"]
        need = n * image.numel() * image.element_size()
        if need > budget_bytes:
            raise UserError(
                f"caching needs {need / 2**30:.1f} GiB for {n} images of {tuple(image.shape)}, more than the "
                f"{budget_bytes / 2**30:.1f} GiB budget; read from disk instead (no cache)"
            )
        self.images = torch.empty((n, *image.shape), dtype=image.dtype)
        self.masks = torch.empty((n, *first["mask"].shape), dtype=torch.long) if "mask" in first else None
        self.metas: list[dict[str, Any]] = []
        self.targets: list[int] = []
        loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=num_workers)
        with single_threaded():
            for i, sample in enumerate(loader):
                if sample["image"].shape != image.shape:
                    raise UserError(f"{sample['meta'].get('path', i)}: caching needs one image size")
                self.images[i] = sample["image"]
                if self.masks is not None:
                    self.masks[i] = sample["mask"]
                if "label" in sample:
                    self.targets.append(int(sample["label"]))
                self.metas.append(sample["meta"])
        log.info("holding %d decoded images in memory (%.0f MB)", n, need / 2**20)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample: dict[str, Any] = {"image": self.images[index], "meta": self.metas[index]}
        if self.targets:
            sample["label"] = self.targets[index]
        if self.masks is not None:
            sample["mask"] = self.masks[index]
        return sample

    def __getattr__(self, name: str) -> Any:
        # only called for attributes not found on self: in_chans, dtype, card, classes, labels, files, ...
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("card", "layout") and "dataset" in self.__dict__:
            setattr(self.dataset, name, value)  # build_dataset labels the wrapped dataset
        else:
            super().__setattr__(name, value)
