"""The recipe schema: a named pair of augmentation views plus its channel, scaling and normalisation contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

from .schema import bounded

@dataclass
class ChannelSpec:
    """What data a recipe accepts. ``count`` is a channel count, a list of them, or "any"."""

    count: Union[int, list[int], Literal["any"]] = bounded(3, ge=1, min_len=1)
    rgb: bool = False  # ops that need RGB semantics (hue, saturation, luma grayscale) require this
    names: Union[list[str], None] = None

    def accepts(self, n: int) -> bool:
        if self.count == "any":
            return True
        if isinstance(self.count, int):
            return n == self.count
        return n in self.count


@dataclass
class ScalingSpec:
    """How raw pixel values become floats, applied on the device before augmentation.

    kind: ``auto`` (uint8 → /255, uint16 → /65535, floats unchanged), ``divide`` (by ``value``, e.g.
    10000 for Sentinel-2 reflectance), ``percentile_clip`` (per band, clip to [low, high] and map to
    [0, 1]; bounds from ``low``/``high`` or the p1/p99 of a ``stats`` file), ``ct_window`` (clip to
    ``center`` ± ``width``/2, e.g. HU 40/400 for soft tissue, and map to [0, 1]), ``none``.
    """

    kind: Literal["auto", "divide", "percentile_clip", "ct_window", "none"] = "auto"
    value: Union[float, None] = bounded(None, gt=0)
    stats: Union[str, None] = None  # percentile_clip: a stats.json from `byol-transfer stats` (p1, p99)
    low: Union[list[float], None] = None  # percentile_clip: explicit bounds, one per band or one for all
    high: Union[list[float], None] = None
    center: Union[float, None] = None  # ct_window: window level
    width: Union[float, None] = bounded(None, gt=0)  # ct_window: window width


@dataclass
class NormalizeSpec:
    """Per-channel normalisation applied last, after augmentation.

    Either explicit ``mean``/``std`` (one value per channel, or one value for all), or ``stats``: a
    stats.json path written by ``byol-transfer stats``. Neither means mean 0, std 1.
    """

    mean: Union[list[float], None] = None
    std: Union[list[float], None] = bounded(None, gt=0)
    stats: Union[str, None] = None


def _scale_problem(value: list[float]) -> str | None:
    if len(value) == 2 and value[0] > value[1]:
        return f"must be [low, high] with low <= high, got {value!r}"
    return None


@dataclass
class LocalCropsSpec:
    """Multi-crop BYOL: small crops that go through the online network only (models/byol.py).

    Each local crop predicts the target projections of both global views; ``number: 0`` (the default)
    trains plain two-view BYOL. A local crop is the ops of ``ops_from`` with its ``random_resized_crop``
    drawn from ``scale`` and resized to ``size`` px (augment/recipes.py, ``local_view_specs``).
    """

    number: int = bounded(0, ge=0)  # local crops per image; 0: off
    size: Union[int, None] = bounded(None, ge=8)  # px per side; None: half the global views' size
    scale: list[float] = bounded(default_factory=lambda: [0.05, 0.3], length=2, gt=0, le=1, check=_scale_problem)
    # view2's ops by default: view1 always blurs (p = 1), which erases most of what a small crop holds
    ops_from: Literal["view1", "view2"] = "view2"


@dataclass
class RecipeConfig:
    """A named pair of augmentation views plus the channel, scaling and normalisation contract."""

    name: str
    description: str = ""
    channels: ChannelSpec = field(default_factory=ChannelSpec)
    scaling: ScalingSpec = field(default_factory=ScalingSpec)
    normalize: NormalizeSpec = field(default_factory=NormalizeSpec)
    view1: list[dict[str, Any]] = bounded(default_factory=list, min_len=1)  # a view needs at least one op
    view2: list[dict[str, Any]] = bounded(default_factory=list, min_len=1)
    local_crops: LocalCropsSpec = field(default_factory=LocalCropsSpec)  # multi-crop; off by default
    plugins: list[str] = field(default_factory=list)  # modules of the user's own ops, imported first
    source: Union[str, None] = None  # the file it came from, for error messages
