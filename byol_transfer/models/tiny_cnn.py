"""``byol_tiny_cnn``: a 4-layer CNN registered in timm's model registry, for fast tests and demos.

It follows timm's classifier contract (``num_classes``, ``in_chans``, ``num_features``,
``forward_features``/``forward_head``, ``reset_classifier``), so ``timm.create_model("byol_tiny_cnn",
num_classes=0, in_chans=C)`` builds it and exports load into it exactly like into a resnet.
"""

from __future__ import annotations

import torch
from timm.models import register_model
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self, num_classes: int = 1000, in_chans: int = 3, width: int = 32, **_: object) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = self.head_hidden_size = width * 4

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            )

        self.stem = block(in_chans, width, 1)
        self.stages = nn.Sequential(
            block(width, width * 2, 2), block(width * 2, width * 4, 2), block(width * 4, width * 4, 2)
        )
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x).flatten(1)
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str = "avg") -> None:
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


@register_model
def byol_tiny_cnn(pretrained: bool = False, **kwargs: object) -> TinyCNN:
    if pretrained:
        raise ValueError("byol_tiny_cnn has no pretrained weights")
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(key, None)
    return TinyCNN(**kwargs)  # type: ignore[arg-type]
