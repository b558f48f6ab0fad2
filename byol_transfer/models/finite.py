"""The one finiteness check for weights: nothing holding NaN or ±inf is saved, exported or evaluated.

A diverged run (e.g. an infinite learning rate) turns weights into NaN one optimiser step before the
loss shows it; saving or exporting them would hand the user a "good" checkpoint that poisons every later
command. Training, checkpointing, export and every weight loader call :func:`first_non_finite` (or
:func:`require_finite`) so that rule lives in one place.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

import torch

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
    # One synchronisation for all tensors on the common path; the per-tensor search only on failure.
    device = floating[0][1].device
    flags = torch.stack([torch.isfinite(t).all().to(device) for _, t in floating]).cpu()
    if bool(flags.all()):
        return None
    return next(name for (name, _), ok in zip(floating, flags.tolist()) if not ok)


def require_finite(tensors: Mapping[str, Any] | Iterable[tuple[str, torch.Tensor]], where: str) -> None:
    """``UserError`` naming ``where`` (a file) and the tensor when any tensor is NaN or ±inf."""
    items = named_tensors(tensors) if isinstance(tensors, Mapping) else tensors
    name = first_non_finite(items)
    if name is not None:
        raise UserError(f"{where}: tensor {name!r} holds NaN or infinite values (the run that wrote it "
                        "diverged); refusing to use these weights")
