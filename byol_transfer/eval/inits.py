"""The initialisations a sweep compares: BYOL exports, random init, any local weights file.

``NAME=PATH`` or ``NAME=random``. An export brings its own architecture, channel count, value scaling
and normalisation in its JSON sidecar. Random init and weights without a sidecar need an architecture
(``--arch``, or the first export's) and a recipe for scaling/normalisation (``--recipe``, or the first
export's), so that "random init" means the *same* architecture fed the *same* pixels. Nothing is
downloaded: a local timm checkpoint (``.safetensors``, or ``.pth``/``.bin`` read with
``weights_only=True``) loads strictly after dropping its classifier (``num_classes=0``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from ..augment.recipes import build_eval_transform, load_recipe
from ..augment.scaling import Normalize, ValueScaling
from ..augment.views import EvalTransform
from ..config import RecipeConfig, ScalingSpec, from_dict
from ..errors import UserError
from ..models.backbones import check_backbone_name, create_backbone, feature_dim
from ..models.finite import require_finite
from ..models.weights import load_strict, read_export
from .features import state_fingerprint

log = logging.getLogger(__name__)

RANDOM = "random"
RANDOM_INIT_SEED = 0  # one fixed random init per architecture: features are then cacheable


@dataclass
class Init:
    name: str
    source: str  # "random" or the weights file
    architecture: str
    backbone: nn.Module
    transform: EvalTransform
    weights_hash: str  # SHA-256 of the state dict, the feature cache key and the bit-identity check
    image_size: int | None = None  # what the weights were pretrained at, when known
    recipe: str | None = None

    @property
    def num_features(self) -> int:
        return feature_dim(self.backbone)


def parse_backbone_specs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``NAME=WEIGHTS``/``NAME=random``; a bare path is named by its stem, a bare ``random`` "random"."""
    parsed: list[tuple[str, str]] = []
    for spec in specs:
        name, sep, target = spec.partition("=")
        if not sep:
            target = spec
            name = RANDOM if spec == RANDOM else Path(spec).name.split(".")[0]
        name, target = name.strip(), target.strip()
        if not name or not target:
            raise UserError(f"--backbone {spec!r}: expected NAME=WEIGHTS_FILE or NAME=random")
        if name in {n for n, _ in parsed}:
            raise UserError(f"--backbone: the name {name!r} is used twice")
        parsed.append((name, target))
    if not parsed:
        raise UserError("--backbone: give at least one NAME=WEIGHTS_FILE or NAME=random")
    return parsed


def expected_in_chans(specs: Sequence[str], recipe: str | None) -> int | None:
    """The channel count the inits will want, known before any data are read: the first export's
    ``in_chans``, else the fixed count of ``recipe`` (None when neither says; the data decide)."""
    from ..models.weights import sidecar_path

    for _, target in parse_backbone_specs(specs):
        sidecar = sidecar_path(Path(target))
        if target != RANDOM and sidecar.is_file():
            try:
                value = json.loads(sidecar.read_text()).get("in_chans")
            except (json.JSONDecodeError, AttributeError, OSError):
                continue
            if isinstance(value, int):
                return value
    if recipe:
        count = load_recipe(recipe).channels.count
        return count if isinstance(count, int) else None
    return None


def check_before_data(specs: Sequence[tuple[str, str]], arch: str | None, recipe: str | None) -> None:
    """What the inits need that costs no data: weights files exist, ``arch`` is a timm name, the recipe loads.

    ``specs``: parsed ``(name, target)`` pairs (:func:`parse_backbone_specs`).
    """
    for name, target in specs:
        if target != RANDOM and not Path(target).is_file():
            raise UserError(f"--backbone {name}={target}: weights file not found")
    if arch:
        check_backbone_name(arch, "--arch")
    if recipe:
        load_recipe(recipe)


def _read_weights(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if path.suffix == ".safetensors":
        return read_export(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{path}: not a readable PyTorch weights file ({type(e).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: expected a state dict of tensors in timm key names")
    require_finite(state, str(path))
    return state, {}


def _stem_channels(model: nn.Module, weights: dict[str, torch.Tensor]) -> tuple[str, int, int] | None:
    """(key, channels in the weights, channels in the model) of the input convolution, if found."""
    first = (getattr(model, "pretrained_cfg", None) or {}).get("first_conv")
    own = model.state_dict()
    key = f"{first}.weight" if first and f"{first}.weight" in own else next(
        (k for k, v in own.items() if v.ndim == 4), None)
    if key is None or key not in weights or weights[key].ndim != 4:
        return None
    return key, int(weights[key].shape[1]), int(own[key].shape[1])


def _drop_classifier(model: nn.Module, weights: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """A timm classifier checkpoint minus its head (what timm itself does for ``num_classes=0``)."""
    head = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    if not head:
        return weights
    own = model.state_dict()
    dropped = [k for k in weights if k.startswith(f"{head}.") and k not in own]
    if dropped:
        log.info("%s: dropping the classifier %s (%s)", where, head, ", ".join(dropped))
    return {k: v for k, v in weights.items() if k not in dropped}


def eval_transform_from_sidecar(meta: dict[str, Any], where: str) -> EvalTransform:
    """Scaling + normalisation exactly as recorded at export time (stats files may be gone since)."""
    try:
        scaling, mean, std = meta["scaling"], meta["normalize"]["mean"], meta["normalize"]["std"]
    except (KeyError, TypeError):
        raise UserError(f"{where}: sidecar lacks 'scaling' or 'normalize'; pass --recipe") from None
    spec = from_dict(ScalingSpec, {k: v for k, v in scaling.items() if v is not None}, f"{where} (scaling)")
    return EvalTransform(ValueScaling(spec), Normalize(list(mean), list(std)))


def channel_mismatch(where: str, weights_chans: int, data_chans: int) -> UserError:
    return UserError(
        f"{where} expects {weights_chans}-channel images but the data have {data_chans} channel(s); "
        "use weights pretrained on this kind of data"
    )


def build_inits(
    specs: Sequence[str],
    in_chans: int,
    arch: str | None = None,
    recipe: str | RecipeConfig | None = None,
) -> list[Init]:
    """Load every ``NAME=WEIGHTS``/``NAME=random`` for ``in_chans``-channel data, strictly."""
    parsed = parse_backbone_specs(specs)
    loaded: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {
        target: _read_weights(Path(target)) for _, target in parsed if target != RANDOM
    }
    reference = next((meta for _, meta in loaded.values() if meta), None)  # the first export's sidecar
    recipe_cfg = load_recipe(recipe) if isinstance(recipe, str) else recipe
    if recipe_cfg is not None and not recipe_cfg.channels.accepts(in_chans):
        raise UserError(f"--recipe {recipe_cfg.name}: accepts {recipe_cfg.channels.count} channel(s), "
                        f"but the data have {in_chans}")

    def shared_transform(for_what: str) -> tuple[EvalTransform, str | None]:
        if recipe_cfg is not None:
            return build_eval_transform(recipe_cfg, in_chans), recipe_cfg.name
        if reference is not None:
            return eval_transform_from_sidecar(reference, "the first export"), reference.get("recipe")
        raise UserError(f"{for_what} needs --recipe (its value scaling and normalisation), "
                        "or a BYOL export to copy them from")

    inits = []
    for name, target in parsed:
        where = f"--backbone {name}={target}"
        if target == RANDOM:
            architecture = arch or (reference or {}).get("architecture")
            if not architecture:
                raise UserError(f"{where}: random init needs --arch (a timm model name)")
            transform, recipe_name = shared_transform(where)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_INIT_SEED)
                backbone = create_backbone(architecture, in_chans)
            image_size = (reference or {}).get("image_size")
        else:
            weights, meta = loaded[target]
            if meta:
                architecture = meta.get("architecture") or arch
                if meta.get("in_chans") and int(meta["in_chans"]) != in_chans:
                    raise channel_mismatch(f"{target} (exported with {meta['in_chans']} channels)",
                                           int(meta["in_chans"]), in_chans)
                transform, recipe_name = eval_transform_from_sidecar(meta, target), meta.get("recipe")
                image_size = meta.get("image_size")
            else:
                architecture = arch or (reference or {}).get("architecture")
                if not architecture:
                    raise UserError(f"{where}: no sidecar .json next to the weights; pass --arch")
                transform, recipe_name = shared_transform(where)
                image_size = None
            backbone = create_backbone(architecture, in_chans)
            weights = _drop_classifier(backbone, weights, target)
            stem = _stem_channels(backbone, weights)
            if stem and stem[1] != stem[2]:
                raise channel_mismatch(f"{target} ({stem[0]})", stem[1], in_chans)
            load_strict(backbone, weights, target)
        if len(transform.normalize.mean.flatten()) != in_chans:
            raise channel_mismatch(f"{where}: its normalisation", len(transform.normalize.mean.flatten()), in_chans)
        backbone.eval()
        inits.append(Init(name, target, architecture, backbone, transform, state_fingerprint(backbone),
                          image_size, recipe_name))
    return inits


def reference_recipe(inits: Sequence[Init], recipe: str | RecipeConfig | None) -> RecipeConfig | None:
    """The recipe whose geometric invariances fine-tuning uses (the same for every init)."""
    if isinstance(recipe, RecipeConfig):
        return recipe
    name = recipe or next((i.recipe for i in inits if i.recipe), None)
    if not name:
        return None
    try:
        return load_recipe(name)
    except UserError:
        log.warning("recipe %r not found: fine-tuning uses crops only (no flips or rotations)", name)
        return None
