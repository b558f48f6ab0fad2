"""Weight files: the one place that reads or writes a backbone's weights and its JSON sidecar.

An export is ``NAME.safetensors`` (the bare backbone in timm key names) plus ``NAME.safetensors.json`` (the
sidecar: architecture, channel count, recipe, value scaling, normalisation, training steps), so transfer
commands need no extra flags and can refuse mismatches. Reading never runs code (safetensors) and refuses
non-finite tensors; loading is strict and verified tensor by tensor. ``train/export.py`` builds an export
from a checkpoint; ``transfer/`` reads them here (and only here), so it never imports the training package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import UserError
from ..io import atomic_path, atomic_write_text
from .backbones import create_backbone
from .finite import require_finite


def sidecar_path(weights: Path) -> Path:
    return weights.with_name(weights.name + ".json")


def write_export(weights: dict[str, torch.Tensor], meta: dict[str, Any], out: str | Path) -> Path:
    """``out`` (.safetensors) and its sidecar, each written atomically; the weights must be finite."""
    out = Path(out)
    require_finite(weights, str(out))
    with atomic_path(out) as tmp:
        save_file(weights, str(tmp), metadata={"architecture": str(meta["architecture"]),
                                              "in_chans": str(meta["in_chans"])})
    atomic_write_text(sidecar_path(out), json.dumps(meta, indent=2) + "\n")
    return out


def read_export(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights and sidecar metadata of an export (safetensors: no code runs while loading)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    try:
        weights = load_file(str(path))
    except Exception as e:
        raise UserError(f"{path}: not a readable safetensors file ({type(e).__name__})") from None
    require_finite(weights, str(path))
    meta_file = sidecar_path(path)
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    return weights, meta


def load_backbone(path: str | Path, architecture: str | None = None, in_chans: int | None = None) -> nn.Module:
    """A timm backbone with an export loaded strictly, and checked tensor by tensor after loading."""
    weights, meta = read_export(path)
    architecture = architecture or meta.get("architecture")
    in_chans = in_chans or meta.get("in_chans")
    if not architecture or not in_chans:
        raise UserError(f"{path}: no sidecar .json; pass the architecture and channel count explicitly")
    if meta and (meta.get("architecture") != architecture or meta.get("in_chans") != in_chans):
        raise UserError(
            f"{path}: exported as {meta.get('architecture')} with {meta.get('in_chans')} channel(s), "
            f"requested {architecture} with {in_chans}"
        )
    backbone = create_backbone(architecture, in_chans)
    load_strict(backbone, weights, str(path))
    return backbone


def load_strict(module: nn.Module, weights: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict(strict=True)`` with a readable error, then verify every tensor is equal."""
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k}: {tuple(weights[k].shape)} vs {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(weights)) if weights[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s) e.g. {', '.join(unexpected[:3])}")
        if shapes:
            parts.append(f"shape mismatch {'; '.join(shapes[:3])}")
        raise UserError(f"{where} does not fit the model: {'; '.join(parts)}")
    module.load_state_dict(weights, strict=True)
    after = module.state_dict()
    for key, tensor in weights.items():
        if not torch.equal(after[key].cpu(), tensor.cpu()):
            raise RuntimeError(f"{where}: {key} differs after loading")


def read_sidecar(weights: str | Path) -> dict[str, Any]:
    """The sidecar of a weights file; ``{}`` when there is none or it is no JSON object (then no export's)."""
    path = sidecar_path(Path(weights))
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def first_conv_key(model: nn.Module) -> str | None:
    """The state-dict key of the input convolution's weight: timm's ``first_conv``, else the first 4-D tensor."""
    own = model.state_dict()
    first = (getattr(model, "pretrained_cfg", None) or {}).get("first_conv")
    if first and f"{first}.weight" in own:
        return f"{first}.weight"
    return next((k for k, v in own.items() if v.ndim == 4), None)
