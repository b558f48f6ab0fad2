"""Frozen features: the backbone in eval mode, no augmentation, the recipe's scaling + normalisation."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm


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
    for batch in tqdm(loader, disable=not progress, desc="features", unit="batch"):
        images = transform(batch["image"].to(device, non_blocking=True))
        features.append(backbone(images).float().cpu())
        labels.append(torch.as_tensor(batch.get("label", torch.full((images.shape[0],), -1))).long())
    backbone.train(was_training)
    return torch.cat(features), torch.cat(labels)
