"""BYOL's projector and predictor: Linear → BatchNorm1d → ReLU → Linear."""

from __future__ import annotations

from torch import nn


class MLPHead(nn.Sequential):
    """Linear(in, hidden) → BN → ReLU → Linear(hidden, out); 4096 → 256 in the BYOL paper."""

    def __init__(self, in_features: int, hidden_features: int = 4096, out_features: int = 256) -> None:
        super().__init__(
            nn.Linear(in_features, hidden_features),
            nn.BatchNorm1d(hidden_features),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_features, out_features),
        )
        self.in_features = in_features
        self.out_features = out_features
