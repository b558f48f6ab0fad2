"""The initialisations a sweep compares: BYOL exports, random init, any local weights file.

``NAME=PATH``, or a baseline: ``NAME=random`` (timm's default init, whose ResNets start every residual
block as the identity: the last BN γ is zero), ``NAME=kaiming`` (the same architecture with torchvision's
ResNet init: He-normal convolutions, every BN γ = 1; models/init_schemes.py) or ``NAME=channel-stats``
(no network: per band, mean, std, min, max and 5/50/95th percentiles of the image a backbone would see,
evaluated by k-NN and the linear probe; Corley et al. 2023). A pretrained init is only worth its cost if
it beats the best of these. An export brings its own architecture, channel count, value scaling
and normalisation in its JSON sidecar. Random init and weights without a sidecar need an architecture
(``--arch``, or the first export's) and a recipe for scaling/normalisation (``--recipe``, or the first
export's), so that "random init" means the *same* architecture fed the *same* pixels. Nothing is
downloaded: a local timm checkpoint (``.safetensors``, or ``.pth``/``.bin`` read with
``weights_only=True``) loads strictly after dropping its classifier (``num_classes=0``).

Segmentation (:func:`segmentation_inits`) builds on the same parts:

- a BYOL export is checked against the smp encoder before anything trains: same architecture, same
  band count, standard stem (a CIFAR-style stem gets its own message); then loaded strictly into its
  timm architecture, from which the segmentation task fills the encoder;
- random init and weights without a sidecar go through :func:`build_inits`; their scaling and
  normalisation, in order: ``--recipe`` (the data card fills in what the recipe leaves open), else the
  first export's (so random init sees the same pixels as BYOL), else the data card's scaling and
  stats.json, else automatic scaling with per-band mean/std measured on the loaded images;
- flips/rotations for fine-tuning come from ``--recipe``, else the export's recipe, else the card's.

Sidecars are read through ``models/weights.py`` only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from ..augment.recipes import build_eval_transform, load_recipe
from ..augment.scaling import Normalize, ValueScaling
from ..augment.views import EvalTransform
from ..config import ChannelSpec, NormalizeSpec, RecipeConfig, ScalingSpec, from_dict
from ..data.cards import DataCard
from ..data.recipe_card import apply_card
from ..errors import UserError
from ..features.cache import state_fingerprint
from ..features.channel_stats import ChannelStats
from ..models.backbones import check_backbone_name, create_backbone, feature_dim
from ..models.init_schemes import kaiming_init
from ..models.weights import drop_classifier, first_conv_key, load_strict, read_export, read_sidecar, read_weights
from .geometry import Geometry
from .tasks.segmentation.smp import check_architecture, check_stem, timm_name

log = logging.getLogger(__name__)

RANDOM = "random"  # timm's default init (its ResNets zero-initialise the last BN γ of every block)
KAIMING = "kaiming"  # torchvision's ResNet init: He-normal convs, BN γ = 1 everywhere (models/init_schemes.py)
CHANNEL_STATS = "channel-stats"  # per-band statistics of the image, no network (features/channel_stats.py)
# the inits that learned nothing from data: the floor a pretrained init is compared with (report.md)
BASELINE_SOURCES = (RANDOM, KAIMING, CHANNEL_STATS)
RANDOM_INIT_SEED = 0  # one fixed random init per architecture: features are then cacheable


def is_baseline(target: str) -> bool:
    """Whether a ``--backbone`` target names a baseline rather than a weights file."""
    return target in BASELINE_SOURCES


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

    @property
    def trainable(self) -> bool:
        """False for channel-stats: there is no network to fine-tune, only features to probe."""
        return self.source != CHANNEL_STATS


def parse_backbone_specs(specs: Sequence[str]) -> list[tuple[str, str]]:
    """``NAME=WEIGHTS``/``NAME=random``; a bare path is named by its stem, a bare ``random`` "random"."""
    parsed: list[tuple[str, str]] = []
    for spec in specs:
        name, sep, target = spec.partition("=")
        if not sep:
            target = spec
            name = spec if is_baseline(spec) else Path(spec).name.split(".")[0]
        name, target = name.strip(), target.strip()
        if not name or not target:
            raise UserError(f"--backbone {spec!r}: expected NAME=WEIGHTS_FILE or NAME=random|kaiming|channel-stats")
        if name in {n for n, _ in parsed}:
            raise UserError(f"--backbone: the name {name!r} is used twice")
        parsed.append((name, target))
    if not parsed:
        raise UserError("--backbone: give at least one NAME=WEIGHTS_FILE or NAME=random")
    return parsed


def sidecar_value(specs: Sequence[tuple[str, str]], key: str) -> Any:
    """``key`` from the first export sidecar among parsed ``(name, target)`` inits that has it, else None."""
    for _, target in specs:
        value = read_sidecar(Path(target)).get(key) if not is_baseline(target) else None
        if value:
            return value
    return None


def expected_in_chans(specs: Sequence[str], recipe: str | RecipeConfig | None) -> int | None:
    """The channel count the inits will want, known before any data are read: the first export's
    ``in_chans``, else the fixed count of ``recipe`` (None when neither says; the data decide)."""
    for _, target in parse_backbone_specs(specs):
        value = read_sidecar(Path(target)).get("in_chans") if not is_baseline(target) else None
        if isinstance(value, int):
            return value
    if recipe:
        count = (recipe if isinstance(recipe, RecipeConfig) else load_recipe(recipe)).channels.count
        return count if isinstance(count, int) else None
    return None


def check_before_data(specs: Sequence[tuple[str, str]], arch: str | None, recipe: str | RecipeConfig | None) -> None:
    """What the inits need that costs no data: weights files exist, ``arch`` is a timm name, the recipe loads.

    ``specs``: parsed ``(name, target)`` pairs (:func:`parse_backbone_specs`).
    """
    for name, target in specs:
        if not is_baseline(target) and not Path(target).is_file():
            raise UserError(f"--backbone {name}={target}: weights file not found")
    if arch:
        check_backbone_name(arch, "--arch")
    if isinstance(recipe, str):
        load_recipe(recipe)


def _stem_channels(model: nn.Module, weights: dict[str, torch.Tensor]) -> tuple[str, int, int] | None:
    """(key, channels in the weights, channels in the model) of the input convolution, if found."""
    own = model.state_dict()
    key = first_conv_key(model)
    if key is None or key not in weights or weights[key].ndim != 4:
        return None
    return key, int(weights[key].shape[1]), int(own[key].shape[1])


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
        target: read_weights(Path(target)) for _, target in parsed if not is_baseline(target)
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
        if target == CHANNEL_STATS:  # the same pixels a backbone would see, summarised per band
            architecture = CHANNEL_STATS
            transform, recipe_name = shared_transform(where)
            backbone = ChannelStats(in_chans)
            image_size = (reference or {}).get("image_size")
        elif target in (RANDOM, KAIMING):
            architecture = arch or (reference or {}).get("architecture")
            if not architecture:
                raise UserError(f"{where}: {target} init needs --arch (a timm model name)")
            transform, recipe_name = shared_transform(where)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_INIT_SEED)
                backbone = create_backbone(architecture, in_chans)
            if target == KAIMING:
                kaiming_init(backbone, seed=RANDOM_INIT_SEED)
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
            weights = drop_classifier(backbone, weights, target)
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


def segmentation_inits(specs: Sequence[tuple[str, str]], in_chans: int, encoder: str, recipe: str | None,
                       card: DataCard | None, images: torch.Tensor) -> list[Init]:
    """One :class:`Init` per ``(name, target)``; ``images`` (raw N×C×H×W) only for measured statistics."""
    exports: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}
    for _, target in specs:
        if not is_baseline(target) and target.endswith(".safetensors") and target not in exports:
            weights, meta = read_export(target)
            if meta:
                exports[target] = (weights, meta)
    shared = shared_recipe(recipe, card, next((m for _, m in exports.values()), None), images)
    inits = []
    for name, target in specs:
        if target == CHANNEL_STATS:
            raise UserError(f"--backbone {name}={target}: channel statistics are a baseline for classification "
                            "(k-NN, linear probe); a segmentation model needs an encoder: use random or kaiming")
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
