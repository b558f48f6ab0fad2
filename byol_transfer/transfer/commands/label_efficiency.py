"""``label-efficiency``: labelled data → inits → the sweep over fractions × seeds × inits × evaluators.

Data go through the data layer (as for pretraining): class folders (train/ and test/ subfolders are the
splits), a MedMNIST-style .npz, a data card's split files, or a ``path<TAB>label`` list. Without a test
set, a seeded stratified hold-out is used (saved in splits.json).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from ...config.compose import section_of, with_sections
from ...augment.recipes import load_recipe
from ...config import RecipeConfig
from ...config.sweep import LabelEfficiencyConfig
from ...data.bands import parse_bands
from ...data.build import build_dataset
from ...data.discover import discover
from ...errors import UserError
from ...features.labelled import LabelledData
from ..evaluators.base import CLASSIFICATION
from ..geometry import Geometry
from ..inits import build_inits, check_before_data, choose_image_size, expected_in_chans, parse_backbone_specs
from ..inits import record_choices, reference_recipe
from ..tasks.classification import SweepResult, SweepSettings, run_label_efficiency

log = logging.getLogger(__name__)


def schema() -> type:
    """LabelEfficiencyConfig + ``settings.<evaluator>`` for every registered classification evaluator."""
    evaluators = [(name, CLASSIFICATION.get(name).settings) for name in CLASSIFICATION.names()]
    return with_sections(LabelEfficiencyConfig, settings=section_of("ClassificationEvaluatorSettings", evaluators))


def follow_finetune(data: dict[str, Any]) -> None:
    """``settings.semisup.finetune`` starts from ``settings.finetune`` (semisup is fine-tuning plus an
    unlabelled term, so ``--epochs`` means the same for both); keys set under semisup.finetune win."""
    settings = data.setdefault("settings", {})
    if not isinstance(settings, dict) or not isinstance(settings.get("finetune", {}), dict):
        return  # the strict conversion names the bad value
    semisup = settings.setdefault("semisup", {})
    if isinstance(semisup, dict) and isinstance(semisup.get("finetune", {}), dict):
        semisup["finetune"] = {**copy.deepcopy(settings.get("finetune", {})), **semisup.get("finetune", {})}


def _datasets(cfg: Any, image_size: int | None, recipe: RecipeConfig | None, with_test: bool = True):  # noqa: ANN202
    """(training data, test data or None) through the data layer: folders, label files, cards, npz."""
    data, test_source = Path(cfg.data.path), cfg.test
    # cache="auto": data that fit in memory are decoded once, before anything is written (a damaged file is
    # named before splits.json exists) and not again for every init
    common = {"card": cfg.data.card, "labeled": True, "bands": parse_bands(cfg.data.bands), "cache": "auto",
              "want_channels": expected_in_chans(cfg.inits.backbones, recipe, cfg.inits.band_map)}
    found = discover(data, cfg.data.card, image_size=image_size)  # layout and card, once for every split
    # split=None: the data's declared training split (train/ folder, card split file, npz train arrays)
    train = build_dataset(data, image_size, labels=cfg.data.labels, found=found, **common)
    if not with_test:
        return train, None
    if test_source.path is not None:
        test = build_dataset(Path(test_source.path), image_size, labels=test_source.labels, **common)
    elif test_source.labels is not None:
        test = build_dataset(data, image_size, labels=test_source.labels, found=found, **common)
    elif cfg.data.labels is None and found.declares_test:
        test = build_dataset(data, image_size, split="test", found=found, **common)
    else:
        test = None  # a seeded stratified hold-out of the training data, saved in splits.json
    return train, test


def run(cfg: Any, out: Path, device: str, cache_dir: Path | None = None, progress: bool = True) -> SweepResult:
    """The sweep ``cfg`` (an instance of :func:`schema`) describes, written to ``out``; ``cfg.chosen`` is
    filled in with what the run decided (evaluation size, band mappings), for config.yaml."""
    evaluators = list(dict.fromkeys(cfg.evaluators))
    if cfg.semi_supervised and "semisup" not in evaluators:
        evaluators.append("semisup")
    if cfg.unlabeled_data is not None and "semisup" not in evaluators:
        raise UserError("--unlabeled-data is used by semi-supervised fine-tuning: add --semi-supervised")
    for name in evaluators:
        CLASSIFICATION.get(name)  # an unknown name fails here, before any data are read
    fixmatch = cfg.settings.semisup.fixmatch
    fixmatch.check()
    # names, files and recipe before any image is decoded (a typo must not cost a folder scan); the
    # recipe is read once, here, and passed on as a RecipeConfig
    recipe_given = load_recipe(cfg.inits.recipe) if cfg.inits.recipe else None
    specs = parse_backbone_specs(cfg.inits.backbones)
    check_before_data(specs, cfg.model.arch, recipe_given, cfg.inits.band_map)
    # the size the encoders were pretrained at unless --image-size says otherwise (inits.choose_image_size)
    size_choice = choose_image_size(cfg.image_size, specs)
    image_size = size_choice.size
    if image_size is None:  # the data's own size (the first image's short side) for every image
        first = _datasets(cfg, None, recipe_given, with_test=False)[0][0]["image"]
        image_size = int(min(first.shape[-2:]))
    log.info(size_choice.line(image_size))
    train_ds, test_ds = _datasets(cfg, image_size, recipe_given)
    data = LabelledData.from_dataset(train_ds, where=str(Path(cfg.data.path)))
    test = None
    if test_ds is not None:
        test = LabelledData.from_dataset(test_ds, data.classes, where=str(Path(cfg.test.path or cfg.data.path)))
    inits = build_inits(cfg.inits.backbones, data.in_chans, cfg.model.arch, recipe_given,
                        band_names=getattr(train_ds, "band_names", None), band_map=cfg.inits.band_map,
                        card=getattr(train_ds, "card", None))
    record_choices(cfg, image_size, size_choice, inits)
    untrainable = [i.name for i in inits if not i.trainable]
    if untrainable and {"finetune", "semisup"} & set(evaluators):
        log.info("%s: channel statistics have no network to fine-tune; their finetune/semisup rows are left out",
                 ", ".join(untrainable))
    recipe = reference_recipe(inits, recipe_given)
    geometry = Geometry.from_recipe(recipe)
    unlabeled = None
    if cfg.unlabeled_data is not None:
        unlabeled = build_dataset(Path(cfg.unlabeled_data), image_size, card=cfg.data.card, labeled=False)
    settings = SweepSettings(
        fractions=cfg.grid.fractions, seeds=list(range(cfg.grid.seeds)),
        evaluators={name: getattr(cfg.settings, name, None) for name in evaluators},
        val_fraction=cfg.grid.val_fraction, test_fraction=cfg.grid.test_fraction,
        device=device, cache_dir=cache_dir, progress=progress,
    )
    title = cfg.title or f"Label efficiency on {Path(cfg.data.path)}"
    context = [f"Images resized to {image_size} px ({size_choice.reason})."]
    context += [f"`{i.name}`: first conv adapted to the data's bands ({i.band_mapping}); scaling and "
                f"normalisation from {i.pixels_from}." for i in inits if i.band_mapping]
    if "semisup" in evaluators:
        pool = (f"{len(unlabeled)} images from {Path(cfg.unlabeled_data)}" if unlabeled is not None
                else "the training images outside each labelled subset")
        context.append(f"`semisup`: the `finetune` settings plus FixMatch on {pool} (threshold "
                       f"{fixmatch.threshold}, mu {fixmatch.mu}, weight {fixmatch.weight}, "
                       f"views from recipe `{recipe.name if recipe else '?'}`).")
    return run_label_efficiency(inits, data, out, test, settings, geometry, title, context=context,
                                recipe=recipe, unlabeled=unlabeled)
