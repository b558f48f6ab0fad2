"""The inits ``segment`` compares, built from the classification inits' parts (``eval/inits.py``).

- A BYOL export is checked against the smp encoder before anything trains: same architecture, same
  band count, standard stem (a CIFAR-style stem gets its own message); then loaded strictly into its
  timm architecture (``load_strict``), from which the encoder is filled in ``run_segmentation_sweep``.
  Its value scaling and normalisation come from its sidecar.
- Random init and weights without a sidecar go through ``eval.inits.build_inits``; their scaling and
  normalisation, in order: ``--recipe`` (the data card fills in what the recipe leaves open), else the
  first export's (so random init sees the same pixels as BYOL), else the data card's scaling and
  stats.json, else automatic scaling with per-band mean/std measured on the loaded images.
- Flips/rotations for fine-tuning come from ``--recipe``, else the export's recipe, else the card's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Sequence

import torch

from ..augment.recipes import load_recipe
from ..augment.scaling import ValueScaling
from ..config import ChannelSpec, NormalizeSpec, RecipeConfig, ScalingSpec, from_dict
from ..data.cards import DataCard
from ..data.recipe_card import apply_card
from ..errors import UserError
from ..eval.features import state_fingerprint
from ..eval.inits import RANDOM, Init, build_inits, eval_transform_from_sidecar
from ..eval.train_transforms import Geometry
from ..models.backbones import create_backbone
from ..models.weights import load_strict, read_export, sidecar_path
from .smp_transfer import check_architecture, check_stem, timm_name

log = logging.getLogger(__name__)


def segmentation_inits(specs: Sequence[tuple[str, str]], in_chans: int, encoder: str, recipe: str | None,
                       card: DataCard | None, images: torch.Tensor) -> list[Init]:
    """One :class:`Init` per ``(name, target)``; ``images`` (raw N×C×H×W) only for measured statistics."""
    exports: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}
    for _, target in specs:
        if target != RANDOM and target.endswith(".safetensors") and target not in exports:
            weights, meta = read_export(target)
            if meta:
                exports[target] = (weights, meta)
    shared = shared_recipe(recipe, card, next((m for _, m in exports.values()), None), images)
    inits = []
    for name, target in specs:
        if target in exports:
            inits.append(export_init(name, target, *exports[target], in_chans, encoder))
        else:
            inits += build_inits([f"{name}={target}"], in_chans, timm_name(encoder), shared)
    return inits


def export_init(name: str, path: str, weights: dict[str, torch.Tensor], meta: dict[str, Any], in_chans: int,
                encoder: str) -> Init:
    """A BYOL export checked for this encoder and data, loaded strictly into its timm architecture."""
    architecture = meta.get("architecture") or timm_name(encoder)
    check_architecture(architecture, encoder, path)
    backbone = create_backbone(architecture, in_chans)
    check_stem(backbone, weights, architecture, path)
    load_strict(backbone, weights, path)
    transform = eval_transform_from_sidecar(meta, path)
    if transform.normalize.mean.numel() != in_chans:
        raise UserError(f"{path}: its normalisation has {transform.normalize.mean.numel()} values for "
                        f"{in_chans}-channel data")
    backbone.eval()
    return Init(name, path, architecture, backbone, transform, state_fingerprint(backbone),
                meta.get("image_size"), meta.get("recipe"))


def shared_recipe(recipe: str | None, card: DataCard | None, export_meta: dict[str, Any] | None,
                  images: torch.Tensor) -> RecipeConfig:
    """Scaling + normalisation for random init and sidecar-less weights (see the module docstring)."""
    if recipe:
        config = load_recipe(recipe)
        if card is not None:
            apply_card(config, card)
        return config
    if export_meta is not None:
        scaling = from_dict(ScalingSpec, {k: v for k, v in export_meta["scaling"].items() if v is not None},
                            "export sidecar (scaling)")
        norm = export_meta["normalize"]
        return RecipeConfig(name=export_meta.get("recipe") or "export", channels=ChannelSpec(count="any"),
                            scaling=scaling, normalize=NormalizeSpec(mean=norm["mean"], std=norm["std"]),
                            source="the first export's sidecar")
    if card is not None and not card.text_only:
        stats = card.stats_path
        log.info("random init: value scaling %s and normalisation %s from data card %r",
                 card.scaling.kind, stats or "none (mean 0, std 1)", card.name)
        return RecipeConfig(name=f"card:{card.name}", channels=ChannelSpec(count="any"),
                            scaling=card.resolved_scaling(),
                            normalize=NormalizeSpec(stats=str(stats)) if stats else NormalizeSpec(),
                            source=f"data card {card.name}")
    scaling = ScalingSpec(kind="auto")
    mean, std = band_stats(images, ValueScaling(scaling))
    log.info("random init: no --recipe, export or data card; automatic value scaling and per-band "
             "mean/std of the %d loaded images", len(images))
    return RecipeConfig(name="measured", channels=ChannelSpec(count="any"), scaling=scaling,
                        normalize=NormalizeSpec(mean=mean, std=std), source="measured on --data")


def band_stats(images: torch.Tensor, scaling: ValueScaling, chunk: int = 64) -> tuple[list[float], list[float]]:
    """Per-band mean and standard deviation of scaled images (N×C×H×W), in float64."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    count = 0
    for part in images.split(chunk):
        x = scaling(part).double()
        total += x.sum(dim=(0, 2, 3))
        squares += (x * x).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean * mean).clamp_min(0).sqrt()
    return mean.tolist(), [s if s > 1e-12 else 1.0 for s in std.tolist()]


def recipe_for(recipe: str | None, inits: Sequence[Init], card: DataCard | None) -> RecipeConfig | None:
    """The first recipe that can be found: ``--recipe``, an export's, the card's; None if none."""
    for name in [recipe, *(i.recipe for i in inits), card.recipe if card else None]:
        if not name:
            continue
        try:
            return load_recipe(name)
        except UserError:
            if name == recipe:
                raise
    return None


def geometry_for(recipe: str | None, inits: Sequence[Init], card: DataCard | None) -> Geometry:
    """The flips/rotations fine-tuning may use: those of the first recipe that can be found."""
    found = recipe_for(recipe, inits, card)
    if found is not None:
        geometry = Geometry.from_recipe(found)
        log.info("fine-tuning augmentation from recipe %r: %s", found.name, geometry)
        return geometry
    log.warning("no recipe found: fine-tuning uses random resized crops only (no flips or rotations)")
    return Geometry()


def sidecar_value(specs: Sequence[tuple[str, str]], key: str) -> Any:
    """``key`` from the first export sidecar among the inits (e.g. its architecture)."""
    for _, target in specs:
        sidecar = sidecar_path(Path(target))
        if target != RANDOM and sidecar.is_file():
            try:
                value = json.loads(sidecar.read_text()).get(key)
            except (json.JSONDecodeError, AttributeError):
                continue
            if value:
                return value
    return None
