"""The "channel-stats" baseline: a handful of per-band statistics as the feature vector, no learning.

Corley et al. 2023 ("Revisiting pre-trained remote sensing model benchmarks: resizing and normalization
matters") show that, per band, the mean, standard deviation, minimum, maximum and 5th / 50th / 95th
percentiles of the normalised image, standardised and fed to k-NN or logistic regression, reach 86.6 %
k-NN on EuroSAT MS. On multispectral data that is the honest floor a pretrained encoder has to beat:
spectral signatures alone separate many land-cover classes.

The statistics are taken of the image exactly as a frozen backbone sees it (the init's scaling and
normalisation, ``EvalTransform``), so :class:`ChannelStats` stands in for a backbone in feature
extraction and caching. Features are band-major: band 0's seven statistics, then band 1's, ...
(:func:`feature_names`). Standardisation is a separate step (:func:`standardize`) because its mean and
std must come from the labelled training rows of each cell, never from the test images.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

STATISTICS = ("mean", "std", "min", "max", "p5", "p50", "p95")
QUANTILES = (0.05, 0.50, 0.95)  # linear interpolation between order statistics, as numpy's percentile


def channel_stats(images: torch.Tensor,
                  transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """B × C × H × W images → B × (7·C) float32 statistics, all images and bands in one batched call.

    ``transform``: what a frozen backbone gets applied first (an ``EvalTransform``: value scaling then
    normalisation); ``None`` when the images are already transformed. Standard deviation is the
    population one (the spread of this image's pixels, not an estimate of anything).
    """
    if images.ndim != 4:
        raise ValueError(f"expected B × C × H × W images, got shape {tuple(images.shape)}")
    x = transform(images) if transform is not None else images
    flat = x.float().flatten(2)  # B × C × (H·W)
    q = torch.tensor(QUANTILES, dtype=flat.dtype, device=flat.device)
    stats = [flat.mean(-1), flat.std(-1, correction=0), flat.amin(-1), flat.amax(-1),
             *torch.quantile(flat, q, dim=-1)]  # each B × C
    return torch.stack(stats, dim=-1).flatten(1)  # B × C × 7 → band-major B × 7C


def feature_names(channels: int) -> list[str]:
    """``band0.mean``, ``band0.std``, ... in the order :func:`channel_stats` returns them."""
    return [f"band{c}.{s}" for c in range(channels) for s in STATISTICS]


class ChannelStats(nn.Module):
    """:func:`channel_stats` as a parameter-free "backbone": ``extract_features(ChannelStats(C), data,
    init.transform)`` applies the transform itself, as for any backbone."""

    def __init__(self, in_chans: int) -> None:
        super().__init__()
        if in_chans < 1:
            raise ValueError(f"in_chans must be at least 1, got {in_chans}")
        self.in_chans = in_chans
        self.num_features = len(STATISTICS) * in_chans  # what feature_dim() reads, as for a timm model
        # the state dict holds the definition, so the feature cache key and the sweep's "weights unchanged"
        # check (both fingerprints of the state dict) change when the statistics do
        self.register_buffer("quantiles", torch.tensor(QUANTILES, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.in_chans:
            raise ValueError(f"ChannelStats({self.in_chans}) got {x.shape[1]}-channel images")
        return channel_stats(x)


def standardize(train: torch.Tensor, *others: torch.Tensor, eps: float = 1e-12) -> tuple[torch.Tensor, ...]:
    """Per-feature z-scores with the mean and std of ``train``'s rows only, applied to it and ``others``.

    Statistics differ in scale by orders of magnitude (a band's max vs its std); without this, k-NN's
    cosine distance and the probe's L2 penalty would see mostly the largest. A feature constant over
    the training rows carries no information there and becomes 0 (std taken as 1), not NaN.
    """
    train64 = train.double()
    mean = train64.mean(0, keepdim=True)
    std = train64.std(0, correction=0, keepdim=True)
    std = torch.where(std > eps, std, torch.ones_like(std))
    return tuple(((t.double() - mean) / std).to(train.dtype) for t in (train, *others))
