"""Backbones are timm models built by name: ``timm.create_model(name, num_classes=0, in_chans=C)``.

``num_classes=0`` makes the model's own forward return pooled features of size ``num_features``, so
no forward hooks and no mock forward passes are needed; ``in_chans`` adapts the stem to any band count.
"""

from __future__ import annotations

import timm
from torch import nn

from ..errors import UserError
from . import tiny_cnn  # noqa: F401  (registers byol_tiny_cnn in timm's registry)


def create_backbone(name: str, in_chans: int) -> nn.Module:
    """A randomly initialised timm feature extractor with ``in_chans`` input channels (no download)."""
    if in_chans < 1:
        raise UserError(f"in_chans must be at least 1, got {in_chans}")
    check_backbone_name(name)
    try:
        return timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_chans)
    except (TypeError, ValueError, AssertionError) as e:
        raise UserError(f"backbone {name!r} cannot be built with in_chans={in_chans}: {e}") from None


def check_backbone_name(name: str, flag: str = "") -> None:
    """Refuse a name timm does not know, with similar names; cheap, so commands call it before reading data."""
    if not timm.is_model(name):
        close = timm.list_models(f"*{name}*")[:8]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise UserError(f"{flag + ': ' if flag else ''}unknown backbone {name!r} (not a timm model name{hint})")


def feature_dim(backbone: nn.Module) -> int:
    """Width of the pooled features the backbone's forward returns (timm's ``num_features``)."""
    return int(getattr(backbone, "num_features"))
