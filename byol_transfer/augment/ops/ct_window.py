"""CT window jitter: Hounsfield units → [0, 1] through a window drawn per sample around the declared one.

A radiologist reads CT through a window (level/width in HU, e.g. soft tissue 40/400, lung −600/1500); values
outside are clipped. The recipe declares its window once, as value scaling (``scaling: {kind: ct_window,
center: 40, width: 400}``), which is what evaluation, ``byol-transfer stats`` and exports use. During
training this op takes over that scaling: the views receive raw HU and each sample is windowed with
``c`` uniform in ``center ± center_jitter`` and ``w`` uniform in ``width · (1 ± width_jitter)``, then
``clamp((x − (c − w/2)) / w, 0, 1)`` — CT's counterpart of brightness and contrast jitter that keeps the HU
semantics, including structures just outside the declared window. The op must come first in both views
and applies to every sample (it is what maps HU into [0, 1]).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from kornia.augmentation import IntensityAugmentationBase2D

from ...config import RecipeConfig, ScalingSpec
from ...errors import UserError
from . import register_op

OP = "ct_window"


class RandomCTWindow(IntensityAugmentationBase2D):
    def __init__(self, center: float, width: float, center_jitter: float = 0.0, width_jitter: float = 0.0,
                 same_on_batch: bool = False, keepdim: bool = False) -> None:
        super().__init__(p=1.0, same_on_batch=same_on_batch, keepdim=keepdim)
        if width <= 0 or center_jitter < 0 or not 0 <= width_jitter < 1:
            raise ValueError(
                f"need width > 0, center_jitter >= 0 and 0 <= width_jitter < 1; got width={width}, "
                f"center_jitter={center_jitter}, width_jitter={width_jitter}"
            )
        self.center, self.width = float(center), float(width)
        self.center_jitter, self.width_jitter = float(center_jitter), float(width_jitter)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        n = batch_shape[0]
        draws = torch.rand(1 if self.same_on_batch else n, 2, device=self.device).expand(n, -1)
        return {
            "window_center": self.center + self.center_jitter * (2 * draws[:, 0] - 1),
            "window_width": self.width * (1 + self.width_jitter * (2 * draws[:, 1] - 1)),
        }

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        center = params["window_center"].to(device=input.device, dtype=input.dtype).view(-1, 1, 1, 1)
        width = params["window_width"].to(device=input.device, dtype=input.dtype).view(-1, 1, 1, 1)
        low = center - width / 2
        return torch.addcmul(-low / width, input, 1 / width).clamp_(0.0, 1.0)


@register_op(OP, outputs_unit_range=True)
def ct_window(
    image_size: int,
    in_chans: int,
    center: float,
    width: float,
    center_jitter: float = 20.0,
    width_jitter: float = 0.2,
    p: float = 1.0,
) -> RandomCTWindow:
    """Window HU to [0, 1] around the recipe's declared window, jittered per sample (training only)."""
    if p != 1.0:
        raise ValueError("p must be 1: the window is what maps HU into [0, 1], every sample needs it")
    return RandomCTWindow(center, width, center_jitter, width_jitter)


def uses_window_jitter(recipe: RecipeConfig) -> bool:
    """Whether the views jitter the CT window (and so must receive raw HU instead of scaled values)."""
    where = recipe.source or f"recipe {recipe.name!r}"
    firsts = []
    for name, specs in (("view1", recipe.view1), ("view2", recipe.view2)):
        positions = [i for i, s in enumerate(specs) if isinstance(s, dict) and s.get("op") == OP]
        if positions and positions != [0]:
            raise UserError(f"{where}: {name}: {OP} must be the first op (the ops before it would see raw HU)")
        firsts.append(bool(positions))
    if not any(firsts):
        return False
    if not all(firsts):
        raise UserError(f"{where}: {OP} must start both views or neither (one view would see raw HU)")
    if recipe.scaling.kind != "ct_window":
        raise UserError(f"{where}: op {OP} jitters the declared window: set scaling: {{kind: ct_window, "
                        f"center: ..., width: ...}} (got scaling kind {recipe.scaling.kind!r})")
    return True


def with_declared_window(recipe: RecipeConfig, specs: list[dict]) -> list[dict]:
    """The view's op entries with the declared window (scaling.center/width) filled into the ct_window op."""
    where = recipe.source or f"recipe {recipe.name!r}"
    out = []
    for spec in specs:
        if isinstance(spec, dict) and spec.get("op") == OP:
            for key in ("center", "width"):
                if key in spec:
                    raise UserError(f"{where}: op {OP}: declare '{key}' once, under scaling (kind ct_window)")
            spec = {**spec, "center": recipe.scaling.center, "width": recipe.scaling.width}
        out.append(spec)
    return out


def training_scaling(recipe: RecipeConfig) -> ScalingSpec:
    """The scaling TwoViews applies before the views: none (raw HU) when the views window themselves."""
    return ScalingSpec(kind="none") if uses_window_jitter(recipe) else recipe.scaling
