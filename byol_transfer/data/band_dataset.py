"""What every file-backed dataset shares: band selection, dtype, and reads that name a bad file."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .badfiles import read_with_fallback


def torch_dtype(numpy_dtype: str) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=numpy_dtype)).dtype


class BandDataset(Dataset):
    """Base for datasets with ``self.info`` (a probed header), ``self.bands`` (selected band indices or
    None), ``self.skip_bad`` and a ``_read(index)`` that decodes one sample."""

    @property
    def in_chans(self) -> int:
        return len(self.bands) if self.bands is not None else self.info.channels

    @property
    def dtype(self) -> torch.dtype:
        return torch_dtype(self.info.dtype)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return read_with_fallback(self._read, index, len(self), self.skip_bad)
