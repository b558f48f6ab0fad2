"""Export the online backbone of a checkpoint as ``backbone.safetensors`` in timm key names, with a JSON sidecar
(written by ``models/weights.py``, the one reader and writer of weight files).

The sidecar (same name + ``.json``) records architecture, channel count, recipe, value scaling,
normalisation, training steps, band names and the init it started from (``--init``: path, sha256, band mapping), so transfer commands need no extra flags and can refuse mismatches.
``timm.create_model(arch, num_classes=0, in_chans=C).load_state_dict(weights, strict=True)`` works
on the safetensors file alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..augment.scaling import ValueScaling, resolve_normalization, scaling_to_dict
from ..config import PretrainConfig, from_dict
from ..errors import UserError
from ..models.backbones import create_backbone
from ..models.finite import require_finite
from ..models.weights import write_export
from .checkpoint import load_checkpoint

ONLINE_PREFIX = "online_encoder."


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
        # the data's band names in input order ([] when unknown): what --init matches bands by
        "band_names": list(state.get("band_names") or []),
        # the full spec, percentile bounds written out: the export must not depend on a stats file
        "scaling": scaling_to_dict(ValueScaling(cfg.recipe.scaling, in_chans)),
        "normalize": {"mean": mean, "std": std},
        "training_steps": int(state["step"]),
        "total_steps": int(state.get("total_steps", state["step"])),
        "source": str(run_or_ckpt),
        # where the run started from (pretrain --init), None for a random start
        "init": {"path": cfg.model.init, "sha256": cfg.model.init_sha256} if cfg.model.init else None,
        "band_mapping": cfg.model.init_band_mapping,  # what the first conv got, as a --band-map (None: as is)
    }
    return write_export(weights, meta, out), meta
