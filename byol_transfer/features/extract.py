"""Frozen features: the backbone in eval mode, no augmentation, the recipe's scaling + normalisation.

Also :func:`load_images`, the raw images of a dataset stacked in memory: fine-tuning, the pretraining
monitor and the semi-supervised pool all reuse them rather than decoding the files again.
The on-disk feature cache is :mod:`.cache`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..data.threads import single_threaded

@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    dataset: Dataset,
    transform: nn.Module,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    num_workers: int = 0,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features (N×D, float32, CPU) and labels (N, long; -1 where a sample has none)."""
    device = torch.device(device)
    was_training = backbone.training
    backbone.eval().to(device)
    transform = transform.to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    features, labels = [], []
    batches = iter(loader)
    for _ in tqdm(range(len(loader)), disable=not progress, desc="features", unit="batch", leave=False):
        with single_threaded():  # per-sample decoding/resizing in this process: threads only wait
            batch = next(batches)
        images = transform(batch["image"].to(device, non_blocking=True))
        features.append(backbone(images).float().cpu())
        labels.append(torch.as_tensor(batch.get("label", torch.full((images.shape[0],), -1))).long())
    backbone.train(was_training)
    return torch.cat(features), torch.cat(labels)




def load_images(dataset: Dataset, batch_size: int = 256) -> torch.Tensor:
    """All raw images of a dataset stacked (N × C × H × W, native dtype): fine-tuning reuses them."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    with single_threaded():  # per-sample decoding: intra-op threads only wait on a busy machine
        return torch.cat([batch["image"] for batch in loader])
