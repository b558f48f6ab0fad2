"""The initialisations a sweep compares: BYOL exports, random init, any local weights file.

``NAME=PATH``, or a baseline: ``NAME=random`` (timm's default init, whose ResNets start every residual
block as the identity: the last BN γ is zero), ``NAME=kaiming`` (the same architecture with torchvision's
ResNet init: He-normal convolutions, every BN γ = 1; models/init_schemes.py) or ``NAME=channel-stats``
(no network: per band, mean, std, min, max and 5/50/95th percentiles of the image a backbone would see,
evaluated by k-NN and the linear probe; Corley et al. 2023). A pretrained init is only worth its cost if
it beats the best of these. An export brings its own architecture, channel count, value scaling
and normalisation in its JSON sidecar. Random init and weights without a sidecar need an architecture
(``--arch``, or the first export's) and a recipe for scaling/normalisation (``--recipe``, or the first
export's, or the data card's), so that "random init" means the *same* architecture fed the *same* pixels.
Nothing is downloaded: a local timm checkpoint (``.safetensors``, or ``.pth``/``.bin`` read with
``weights_only=True``) loads strictly after dropping its classifier (``num_classes=0``).

Weights for other bands than the data's (an RGB export on 13 Sentinel-2 bands) get their first conv fitted
by ``models/weights.py`` (:func:`fit_to_data`: by band names, sidecar against data, or ``--band-map``; the
one rule ``pretrain --init`` uses), every other tensor strictly as it is. Their sidecar's value scaling and
normalisation describe the source bands, so they are fed the data's, like random init. Evaluation size
(:func:`choose_image_size`): ``--image-size``, else the pretraining size the sidecars agree on, else the
data's own; ``segment`` keeps the tiles' own (:func:`native_size_choice`).

Segmentation (:func:`segmentation_inits`) builds on the same parts:

- a BYOL export is checked against the smp encoder before anything trains: same architecture, its first
  conv fitted to the data's bands, standard stem (a CIFAR-style stem gets its own message); then loaded
  strictly into its timm architecture, from which the segmentation task fills the encoder;
- random init and weights without a sidecar go through :func:`build_inits`; their scaling and
  normalisation (and an adapted export's), in order: ``--recipe`` (the data card fills in what the recipe
  leaves open), else the first export loaded as is (so random init sees the same pixels as BYOL), else the
  data card's scaling and
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
from ..models.weights import (BandList, drop_classifier, fit_first_conv, format_band_mapping,
                              load_strict, read_export, read_sidecar, read_weights)
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
    band_mapping: str | None = None  # the first conv's adaptation as a --band-map; None: loaded as is
    pixels_from: str | None = None  # where the value scaling and normalisation came from

    def describe(self) -> dict[str, Any]:
        """What run.json records about this init."""
        return {"name": self.name, "source": self.source, "architecture": self.architecture, "recipe": self.recipe,
                "weights_sha256": self.weights_hash, "pretrained_image_size": self.image_size,
                "band_mapping": self.band_mapping, "scaling_and_normalisation_from": self.pixels_from}

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


def expected_in_chans(specs: Sequence[str], recipe: str | RecipeConfig | None,
                      band_map: str | None = None) -> int | None:
    """The channel count the inits will want, known before any data are read: the first export's
    ``in_chans``, else the fixed count of ``recipe`` (None when neither says; the data decide).

    It only tells the data layer to read grey images stored as RGB as one channel for a 1-channel export;
    with ``band_map`` the user asked for the first conv to be adapted, so the data keep their bands."""
    if not band_map:
        for _, target in parse_backbone_specs(specs):
            value = read_sidecar(Path(target)).get("in_chans") if not is_baseline(target) else None
            if isinstance(value, int):
                return value
    if recipe:
        count = (recipe if isinstance(recipe, RecipeConfig) else load_recipe(recipe)).channels.count
        return count if isinstance(count, int) else None
    return None


def check_before_data(specs: Sequence[tuple[str, str]], arch: str | None, recipe: str | RecipeConfig | None,
                      band_map: str | None = None) -> None:
    """What the inits need that costs no data: weights files exist, ``arch`` is a timm name, the recipe loads,
    ``band_map`` has a weights file to adapt.

    ``specs``: parsed ``(name, target)`` pairs (:func:`parse_backbone_specs`).
    """
    for name, target in specs:
        if not is_baseline(target) and not Path(target).is_file():
            raise UserError(f"--backbone {name}={target}: weights file not found")
    if band_map and all(is_baseline(target) for _, target in specs):
        raise UserError(f"--band-map {band_map!r}: adapts the first conv of a weights file; no --backbone names one")
    if arch:
        check_backbone_name(arch, "--arch")
    if isinstance(recipe, str):
        load_recipe(recipe)


@dataclass(frozen=True)
class SizeChoice:
    """The square size a sweep evaluates at and why (logged, in report.md and in config.yaml's ``chosen``)."""

    size: int | None  # None: the data's own size (the command measures it)
    reason: str
    hint: str = ""  # how to choose otherwise

    def line(self, size: int) -> str:
        return f"evaluating at {size} px: {self.reason}" + (f"; {self.hint}" if self.hint else "")


def record_choices(cfg: Any, image_size: int, choice: SizeChoice, inits: Sequence[Init]) -> None:
    """``cfg.chosen`` (a label-efficiency or segment config): what the run decided, for config.yaml."""
    cfg.chosen.image_size = int(image_size)
    cfg.chosen.image_size_from = choice.reason
    cfg.chosen.band_mappings = {i.name: i.band_mapping for i in inits if i.band_mapping}


def pretraining_sizes(specs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Init name → the image size its weights file's sidecar records (baselines and sidecar-less weights: none)."""
    sizes: dict[str, int] = {}
    for name, target in specs:
        value = read_sidecar(Path(target)).get("image_size") if not is_baseline(target) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            sizes[name] = value
    return sizes


def choose_image_size(given: int | None, specs: Sequence[tuple[str, str]], flag: str = "--image-size") -> SizeChoice:
    """Evaluate at the size the encoder was pretrained at, unless told otherwise (Corley et al. 2023: resizing
    EuroSAT to the pretraining size is worth about 11 points): ``given``, else the size the sidecars agree on
    (different sizes: an error asking for ``flag``), else the data's own size (None here). Baselines have no
    pretraining size and follow the pretrained inits."""
    sizes = pretraining_sizes(specs)
    listed = ", ".join(f"{name} at {size} px" for name, size in sizes.items())
    if given is not None:
        other = any(size != given for size in sizes.values())
        return SizeChoice(given, f"{flag}" + (f" (pretrained: {listed})" if other else ""))
    if not sizes:
        return SizeChoice(None, "the data's own size (no sidecar records a pretraining size)", f"{flag} overrides")
    if len(set(sizes.values())) > 1:
        raise UserError(f"the inits were pretrained at different sizes ({listed}); pass {flag} to choose the one "
                        "size they are all evaluated at")
    return SizeChoice(next(iter(sizes.values())), f"the pretraining size recorded in {', '.join(sizes)}'s sidecar",
                      f"{flag} overrides")


def native_size_choice(given: int | None, specs: Sequence[tuple[str, str]]) -> SizeChoice:
    """Why ``segment`` works at its size. Unlike label-efficiency it does not resize to the pretraining size:
    masks are per pixel, and ``predict`` labels tiles at their own resolution."""
    if given is not None:
        return SizeChoice(given, "--image-size")
    sizes = pretraining_sizes(specs)
    pretrained = f" (pretrained: {', '.join(f'{n} at {s} px' for n, s in sizes.items())})" if sizes else ""
    return SizeChoice(None, f"the images' own size: segment keeps the tiles' resolution{pretrained}",
                      "--image-size overrides")


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


def target_bands(in_chans: int, band_names: Sequence[str] | None) -> BandList:
    """The data's bands for :func:`fit_first_conv`: their names when there is one per channel, else the count."""
    names = [str(n) for n in (band_names or [])]
    return names if len(names) == in_chans and all(names) else in_chans


def fit_to_data(name: str, target: str, backbone: nn.Module, weights: dict[str, torch.Tensor], meta: dict[str, Any],
                in_chans: int, band_names: Sequence[str] | None,
                band_map: str | None) -> tuple[dict[str, torch.Tensor], str | None]:
    """A weights file's tensors with the first conv fitted to the data's bands (models/weights.py, the one
    place); (weights, the mapping as a ``--band-map``, None when loaded as is). No rule: a one-line error."""
    where = f"--backbone {name}={target}"
    try:
        weights, record = fit_first_conv(backbone, weights, meta, target_bands(in_chans, band_names), band_map, where)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None
    return weights, format_band_mapping(record)


def card_recipe(card: DataCard) -> RecipeConfig:
    """The data card's value scaling and stats.json as a recipe (mean 0, std 1 when it has no stats)."""
    stats = card.stats_path
    return RecipeConfig(name=f"card:{card.name}", channels=ChannelSpec(count="any"), scaling=card.resolved_scaling(),
                        normalize=NormalizeSpec(stats=str(stats)) if stats else NormalizeSpec(),
                        source=f"data card {card.name}")


def build_inits(
    specs: Sequence[str],
    in_chans: int,
    arch: str | None = None,
    recipe: str | RecipeConfig | None = None,
    band_names: Sequence[str] | None = None,
    band_map: str | None = None,
    card: DataCard | None = None,
) -> list[Init]:
    """Load every ``NAME=WEIGHTS``/``NAME=random`` for ``in_chans``-channel data, strictly.

    A weights file for other bands (``band_names``: the data's, in file order) gets its first conv adapted
    (:func:`fit_to_data`; ``band_map`` as in ``pretrain --band-map``) and, since its sidecar's scaling and
    normalisation describe the source bands, the data's: ``recipe``, else the sidecar of an export loaded as
    is, else the data ``card`` (scaling + stats.json). Random init takes the same, so that it sees the same
    pixels.
    """
    parsed = parse_backbone_specs(specs)
    loaded: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {
        target: read_weights(Path(target)) for _, target in parsed if not is_baseline(target)
    }
    first_meta = next((meta for _, meta in loaded.values() if meta), None)
    recipe_cfg = load_recipe(recipe) if isinstance(recipe, str) else recipe
    if recipe_cfg is not None and not recipe_cfg.channels.accepts(in_chans):
        raise UserError(f"--recipe {recipe_cfg.name}: accepts {recipe_cfg.channels.count} channel(s), "
                        f"but the data have {in_chans}")
    if band_map and not loaded:
        raise UserError(f"--band-map {band_map!r}: adapts the first conv of a weights file; no --backbone names one")

    fitted: dict[str, tuple[str, nn.Module, dict[str, torch.Tensor], str | None]] = {}  # by init name
    for name, target in parsed:  # first every weights file on the data's bands: which are loaded as is
        if is_baseline(target):
            continue
        weights, meta = loaded[target]
        architecture = (meta.get("architecture") if meta else None) or arch or (first_meta or {}).get("architecture")
        if not architecture:
            raise UserError(f"--backbone {name}={target}: no sidecar .json next to the weights; pass --arch")
        backbone = create_backbone(architecture, in_chans)
        weights = drop_classifier(backbone, weights, target)
        weights, mapping = fit_to_data(name, target, backbone, weights, meta, in_chans, band_names, band_map)
        fitted[name] = (architecture, backbone, weights, mapping)
    # an export loaded as is saw these very pixels: its scaling and normalisation are the data's
    reference = next((loaded[t][1] for n, t in parsed if n in fitted and loaded[t][1] and fitted[n][3] is None),
                     None)

    def shared_transform(for_what: str) -> tuple[EvalTransform, str | None, str]:
        """(transform, recipe name, where it came from) for the data's own bands."""
        if recipe_cfg is not None:
            return build_eval_transform(recipe_cfg, in_chans), recipe_cfg.name, f"recipe {recipe_cfg.name}"
        if reference is not None:
            return (eval_transform_from_sidecar(reference, "the first export"), reference.get("recipe"),
                    "the sidecar of an export loaded as is")
        if card is not None and not card.text_only:
            return (build_eval_transform(card_recipe(card), in_chans), card.recipe,
                    f"data card {card.name} ({card.stats_path or 'no stats.json: mean 0, std 1'})")
        raise UserError(f"{for_what} needs --recipe (its value scaling and normalisation), a data card "
                        "(--card), or a BYOL export for these bands to copy them from")

    inits = []
    for name, target in parsed:
        where = f"--backbone {name}={target}"
        mapping = None
        if target == CHANNEL_STATS:  # the same pixels a backbone would see, summarised per band
            architecture = CHANNEL_STATS
            transform, recipe_name, pixels = shared_transform(where)
            backbone = ChannelStats(in_chans)
            image_size = (first_meta or {}).get("image_size")
        elif target in (RANDOM, KAIMING):
            architecture = arch or (first_meta or {}).get("architecture")
            if not architecture:
                raise UserError(f"{where}: {target} init needs --arch (a timm model name)")
            transform, recipe_name, pixels = shared_transform(where)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(RANDOM_INIT_SEED)
                backbone = create_backbone(architecture, in_chans)
            if target == KAIMING:
                kaiming_init(backbone, seed=RANDOM_INIT_SEED)
            image_size = (first_meta or {}).get("image_size")
        else:
            architecture, backbone, weights, mapping = fitted[name]
            meta = loaded[target][1]
            if meta and mapping is None:
                transform, recipe_name = eval_transform_from_sidecar(meta, target), meta.get("recipe")
                pixels = "its sidecar"
            else:  # no sidecar, or one that describes other bands
                transform, recipe_name, pixels = shared_transform(where)
            image_size = meta.get("image_size") if meta else None
            load_strict(backbone, weights, target)
        if len(transform.normalize.mean.flatten()) != in_chans:
            raise channel_mismatch(f"{where}: its normalisation", len(transform.normalize.mean.flatten()), in_chans)
        if mapping is not None:
            log.info("%s: scaling and normalisation of the data's %d bands from %s (the sidecar's describe the "
                     "bands the weights were trained on)", where, in_chans, pixels)
        backbone.eval()
        inits.append(Init(name, target, architecture, backbone, transform, state_fingerprint(backbone),
                          image_size, recipe_name, mapping, pixels))
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
                       card: DataCard | None, images: torch.Tensor, band_names: Sequence[str] | None = None,
                       band_map: str | None = None) -> list[Init]:
    """One :class:`Init` per ``(name, target)``; ``images`` (raw N×C×H×W) only for measured statistics.

    An export for other bands gets its first conv adapted to ``band_names`` (as in :func:`build_inits`) and
    the shared scaling and normalisation of the data (:func:`shared_recipe`), not its sidecar's."""
    exports: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}
    for _, target in specs:
        if not is_baseline(target) and target.endswith(".safetensors") and target not in exports:
            weights, meta = read_export(target)
            if meta:
                exports[target] = (weights, meta)
    if band_map and all(is_baseline(t) for _, t in specs):
        raise UserError(f"--band-map {band_map!r}: adapts the first conv of a weights file; no --backbone names one")
    fitted = {name: fit_export(name, target, *exports[target], in_chans, encoder, band_names, band_map)
              for name, target in specs if target in exports}
    reference = next((exports[t][1] for n, t in specs if n in fitted and fitted[n][3] is None), None)
    shared = shared_recipe(recipe, card, reference, images)
    # the loadable recipe behind ``shared`` (its flips/rotations), in shared_recipe's order
    shared_name = recipe or (reference or {}).get("recipe") or (card.recipe if card is not None else None)
    inits = []
    for name, target in specs:
        if target == CHANNEL_STATS:
            raise UserError(f"--backbone {name}={target}: channel statistics are a baseline for classification "
                            "(k-NN, linear probe); a segmentation model needs an encoder: use random or kaiming")
        if name in fitted:
            inits.append(export_init(name, target, fitted[name], exports[target][1], in_chans, shared, shared_name))
        else:
            inits += build_inits([f"{name}={target}"], in_chans, timm_name(encoder), shared, band_names,
                                 None if is_baseline(target) else band_map)
    return inits


def fit_export(name: str, path: str, weights: dict[str, torch.Tensor], meta: dict[str, Any], in_chans: int,
               encoder: str, band_names: Sequence[str] | None,
               band_map: str | None) -> tuple[str, nn.Module, dict[str, torch.Tensor], str | None]:
    """(architecture, backbone, weights fitted to the data's bands, band mapping) of a BYOL export, checked
    for this encoder: same architecture, standard stem (a CIFAR-style stem gets its own message)."""
    architecture = meta.get("architecture") or timm_name(encoder)
    check_architecture(architecture, encoder, path)
    backbone = create_backbone(architecture, in_chans)
    weights, mapping = fit_to_data(name, path, backbone, weights, meta, in_chans, band_names, band_map)
    check_stem(backbone, weights, architecture, path)
    return architecture, backbone, weights, mapping


def export_init(name: str, path: str, fitted: tuple[str, nn.Module, dict[str, torch.Tensor], str | None],
                meta: dict[str, Any], in_chans: int, shared: RecipeConfig, shared_name: str | None) -> Init:
    """A fitted BYOL export loaded strictly into its timm architecture; its sidecar's pixels when loaded as
    is, else ``shared`` (the data's)."""
    architecture, backbone, weights, mapping = fitted
    load_strict(backbone, weights, path)
    if mapping is None:
        transform, recipe_name, pixels = eval_transform_from_sidecar(meta, path), meta.get("recipe"), "its sidecar"
    else:
        transform, recipe_name, pixels = build_eval_transform(shared, in_chans), shared_name, (shared.source
                                                                                     or f"recipe {shared.name}")
        log.info("--backbone %s=%s: scaling and normalisation of the data's %d bands from %s (the sidecar's "
                 "describe the bands the weights were trained on)", name, path, in_chans, pixels)
    if transform.normalize.mean.numel() != in_chans:
        raise UserError(f"{path}: its normalisation has {transform.normalize.mean.numel()} values for "
                        f"{in_chans}-channel data")
    backbone.eval()
    return Init(name, path, architecture, backbone, transform, state_fingerprint(backbone),
                meta.get("image_size"), recipe_name, mapping, pixels)


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
                            source="the sidecar of an export loaded as is")
    if card is not None and not card.text_only:
        log.info("random init (and weights for other bands): value scaling %s and normalisation %s from data "
                 "card %r", card.scaling.kind, card.stats_path or "none (mean 0, std 1)", card.name)
        return card_recipe(card)
    scaling = ScalingSpec(kind="auto")
    mean, std = band_stats(images, ValueScaling(scaling))
    log.info("random init (and weights for other bands): no --recipe, export or data card; automatic value "
             "scaling and per-band mean/std of the %d loaded images", len(images))
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
