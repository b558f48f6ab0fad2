"""The unlabelled images a semi-supervised run draws from, and seeded batch sampling."""

from __future__ import annotations

import torch

from ..errors import UserError


class UnlabeledPool:
    """Raw images (N×C×H×W, native dtype, on the CPU) sampled uniformly with replacement, seeded.

    Sampling with replacement keeps every step's batch the same size however small the pool is, as
    FixMatch's infinite unlabelled loader does.
    """

    def __init__(self, images: torch.Tensor, seed: int, where: str = "unlabelled data") -> None:
        if images.ndim != 4 or len(images) == 0:
            raise UserError(f"{where}: no unlabelled images to learn from")
        self.images = images
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, n: int) -> torch.Tensor:
        idx = torch.randint(len(self.images), (n,), generator=self.generator)
        return self.images[idx]


class UnlabeledBatches:
    """μ·B raw images from a pool per step, on the training device. At least 2: BatchNorm in training
    mode cannot normalise a batch of one."""

    def __init__(self, pool: UnlabeledPool, mu: int, batch_size: int, device: torch.device | str) -> None:
        self.pool = pool
        self.size = max(2, mu * batch_size)
        self.device = torch.device(device)

    @property
    def images(self) -> torch.Tensor:
        return self.pool.images

    def next(self) -> torch.Tensor:
        return self.pool.sample(self.size).to(self.device, non_blocking=True)
