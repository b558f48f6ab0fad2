"""The one finiteness check for weights: nothing holding NaN or ±inf is saved, exported or evaluated.

A diverged run (e.g. an infinite learning rate) turns weights into NaN one optimiser step before the
loss shows it; saving or exporting them would hand the user a "good" checkpoint that poisons every later
command. Training, checkpointing, export and every weight loader call :func:`first_non_finite` (or
:func:`require_finite`) so that rule lives in one place.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import torch
from torch.nn.utils import get_total_norm

from ..errors import UserError


def named_tensors(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in a nested dict / list (a state dict, an optimiser state), with a dotted name."""
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from named_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from named_tensors(value, f"{prefix}.{i}" if prefix else str(i))


def first_non_finite(tensors: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first floating-point tensor holding NaN or ±inf, or None when all are finite."""
    floating = [(name, t) for name, t in tensors if t.is_floating_point() or t.is_complex()]
    if not floating:
        return None
    with torch.no_grad():
        # Fast path, run after every optimiser step: one fused L1 norm over all tensors (torch's own
        # gradient-clipping helper), one synchronisation. Measured on resnet18 + BYOL heads (16 M optimised
        # values, 1 thread of the busy 2-core dev machine): 60 ms, against 300 ms for per-tensor isfinite
        # and 390 ms for the AdamW step itself.
        if bool(torch.isfinite(get_total_norm([t for _, t in floating], 1.0))):
            return None
        # NaN/inf somewhere, or only a sum too large for float32: find the tensor (or none) exactly.
        return next((name for name, t in floating if not bool(torch.isfinite(t).all())), None)


def require_finite(tensors: Mapping[str, Any] | Iterable[tuple[str, torch.Tensor]], where: str) -> None:
    """``UserError`` naming ``where`` (a file) and the tensor when any tensor is NaN or ±inf."""
    items = named_tensors(tensors) if isinstance(tensors, Mapping) else tensors
    name = first_non_finite(items)
    if name is not None:
        raise UserError(f"{where}: tensor {name!r} holds NaN or infinite values (the run that wrote it "
                        "diverged); refusing to use these weights")
