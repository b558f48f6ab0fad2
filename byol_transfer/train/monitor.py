"""Online k-NN monitor: how well the encoder's frozen features classify a small labelled set, during BYOL.

The BYOL loss says little about feature quality (it can fall while features stay useless, or stay flat
while they improve), so solo-learn and DINO watch a k-NN accuracy while pretraining. Here a small
labelled set (a few hundred to a few thousand images, given with ``--monitor-data``) is held in memory,
split once, stratified and seeded, into a k-NN *bank* and *queries*; every ``monitor.every`` steps the
online encoder embeds both in eval mode (running BN statistics, no augmentation, the recipe's scaling and
normalisation) and the queries are classified with the same weighted cosine k-NN as the evaluators.
The labels never reach the training loss.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..augment.recipes import build_eval_transform
from ..config import MonitorConfig, RecipeConfig
from ..errors import UserError
from ..features.knn import knn_accuracy

log = logging.getLogger(__name__)


def stratified_pick(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of about ``fraction`` of each class (at least one, never a whole class of ≥ 2)."""
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(fraction * len(members)))
        n = min(max(n, 1), len(members) - 1) if len(members) > 1 else len(members)
        picked.append(members[:n])
    return np.sort(np.concatenate(picked))


class KnnMonitor:
    """``monitor(encoder) -> accuracy`` on fixed bank/query images; see the module docstring."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: np.ndarray,
        transform: nn.Module,
        cfg: MonitorConfig,
        device: torch.device | str = "cpu",
        batch_size: int = 256,
    ) -> None:
        labels = np.asarray(labels, dtype=np.int64)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        if cfg.every < 1:
            raise UserError(f"monitor.every must be at least 1, got {cfg.every}")
        if not 0 < cfg.query_fraction < 1:
            raise UserError(f"monitor.query_fraction must lie in (0, 1), got {cfg.query_fraction}")
        if len(labels) > cfg.max_images:
            keep = stratified_pick(labels, cfg.max_images / len(labels), seed=0)
            images, labels = images[torch.as_tensor(keep)], labels[keep]
        counts = np.bincount(labels)
        if (counts[counts > 0] < 2).any():
            lonely = int(np.flatnonzero(counts == 1)[0])
            raise UserError(f"{cfg.data}: class index {lonely} has a single image in the monitor set; "
                            "the k-NN monitor needs at least two per class (one for the bank, one to classify)")
        query = stratified_pick(labels, cfg.query_fraction, seed=1)
        is_query = np.zeros(len(labels), dtype=bool)
        is_query[query] = True
        self.bank_images, self.query_images = images[torch.as_tensor(~is_query)], images[torch.as_tensor(is_query)]
        self.bank_labels = torch.as_tensor(labels[~is_query])
        self.query_labels = torch.as_tensor(labels[is_query])
        self.transform = transform.to(device)
        self.device = torch.device(device)
        self.every, self.k = cfg.every, cfg.k
        self.batch_size = batch_size

    def due(self, step: int, final_step: int) -> bool:
        return step % self.every == 0 or step == final_step

    @torch.no_grad()
    def embed(self, encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
        chunks = []
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size].to(self.device, non_blocking=True)
            chunks.append(encoder(self.transform(batch)).float().cpu())
        return torch.cat(chunks)

    def __call__(self, encoder: nn.Module) -> float:
        """Top-1 k-NN accuracy (0–1) of ``encoder``'s features; its train/eval mode is restored."""
        was_training = encoder.training
        encoder.eval()
        try:
            bank = self.embed(encoder, self.bank_images)
            queries = self.embed(encoder, self.query_images)
        finally:
            encoder.train(was_training)
        return knn_accuracy(bank, self.bank_labels, queries, self.query_labels, ks=[self.k])[self.k]


def build_monitor(cfg: MonitorConfig, recipe: RecipeConfig, image_size: int, in_chans: int,
                  device: torch.device | str) -> KnnMonitor | None:
    """The monitor ``cfg`` asks for (None when ``cfg.data`` is empty), its images decoded once."""
    if not cfg.data:
        return None
    from ..data.build import build_dataset
    from ..features.extract import load_images
    from ..features.labelled import LabelledData

    path = Path(cfg.data)
    dataset = build_dataset(path, image_size, card=cfg.card, labeled=True, labels=cfg.labels)
    data = LabelledData.from_dataset(dataset, where=f"--monitor-data {path}")
    if data.in_chans != in_chans:
        raise UserError(f"--monitor-data {path}: {data.in_chans} channels, but the pretraining data have {in_chans}")
    images = load_images(dataset)
    monitor = KnnMonitor(images, data.labels, build_eval_transform(recipe, in_chans), cfg, device)
    log.info("k-NN monitor: %d bank / %d query images from %s, every %d steps",
             len(monitor.bank_labels), len(monitor.query_labels), path, cfg.every)
    return monitor
