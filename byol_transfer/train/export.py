"""Export the online backbone as ``backbone.safetensors`` in timm key names, with a JSON sidecar.

The sidecar (same name + ``.json``) records architecture, channel count, recipe, value scaling,
normalisation and training steps, so transfer commands need no extra flags and can refuse mismatches.
``timm.create_model(arch, num_classes=0, in_chans=C).load_state_dict(weights, strict=True)`` works
on the safetensors file alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..augment.scaling import ValueScaling, resolve_normalization, scaling_to_dict
from ..config import PretrainConfig, from_dict
from ..errors import UserError
from ..io import atomic_path, atomic_write_text
from ..models.backbones import create_backbone
from ..models.finite import require_finite
from .checkpoint import load_checkpoint

ONLINE_PREFIX = "online_encoder."


def sidecar_path(weights: Path) -> Path:
    return weights.with_name(weights.name + ".json")


def export_backbone(run_or_ckpt: str | Path, out: str | Path) -> tuple[Path, dict[str, Any]]:
    """Write the online encoder of a run (folder or ``.ckpt``) to ``out`` (.safetensors) + sidecar."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out}: the export must be a .safetensors file")
    state = load_checkpoint(run_or_ckpt)
    cfg = from_dict(PretrainConfig, state["config"], f"{run_or_ckpt} (config)")
    weights = {
        key[len(ONLINE_PREFIX):]: tensor.contiguous()
        for key, tensor in state["model"].items()
        if key.startswith(ONLINE_PREFIX)
    }
    # the whole BYOL state, not only the exported part: NaN anywhere means the run diverged
    require_finite(state["model"], f"{run_or_ckpt} (checkpoint)")
    in_chans = int(cfg.model.in_chans or 0)
    # Build the architecture and load strictly: an export that timm cannot load is never written.
    backbone = create_backbone(cfg.model.backbone, in_chans)
    backbone.load_state_dict(weights, strict=True)
    mean, std = resolve_normalization(cfg.recipe.normalize, in_chans, cfg.recipe.source or cfg.recipe.name)
    meta = {
        "format": "byol-transfer/backbone",
        "format_version": 1,
        "architecture": cfg.model.backbone,
        "in_chans": in_chans,
        "image_size": cfg.data.image_size,
        "feature_dim": int(getattr(backbone, "num_features")),
        "recipe": cfg.recipe.name,
        "channel_names": cfg.recipe.channels.names,
        # the full spec, percentile bounds written out: the export must not depend on a stats file
        "scaling": scaling_to_dict(ValueScaling(cfg.recipe.scaling, in_chans)),
        "normalize": {"mean": mean, "std": std},
        "training_steps": int(state["step"]),
        "total_steps": int(state.get("total_steps", state["step"])),
        "source": str(run_or_ckpt),
    }
    with atomic_path(out) as tmp:
        save_file(weights, str(tmp), metadata={"architecture": meta["architecture"], "in_chans": str(in_chans)})
    atomic_write_text(sidecar_path(out), json.dumps(meta, indent=2) + "\n")
    return out, meta


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
