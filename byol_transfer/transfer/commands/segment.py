"""``segment``: image/mask pairs → inits → the segmentation sweep (smp model, encoder loaded strictly).

A fixed test split is held out (``test.path``, the test/ folder, the card's committed test list, or a
seeded ``grid.test_fraction`` of the pairs: see :func:`test_source` for the order); the rest is the pool the labelled subsets are drawn from, per seed, with ``grid.val_fraction`` of
each subset kept for choosing the best epoch (validation mIoU).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ...config.compose import with_sections
from ...config.sweep import SegmentConfig
from ...data.bands import parse_bands
from ...data.build import build_dataset
from ...data.formats.dispatch import probe_image
from ...data.discover import Discovery, discover
from ...data.split_lists import lists_fit
from ...errors import UserError
from ...features.extract import load_images
from ...models.backbones import check_backbone_name
from ...semisup.mean_teacher import MeanTeacherSettings
from ..evaluators.segment_finetune import SegFinetuneSettings
from ..inits import (check_before_data, expected_in_chans, geometry_for, native_size_choice, parse_backbone_specs,
                     recipe_for, record_choices, segmentation_inits, sidecar_value)
from ..tasks.segmentation.smp import architectures, smp_encoder_name, timm_name
from ..tasks.segmentation.task import SegData, SegSweepResult, SegSweepSettings, load_seg_data, run_segmentation_sweep

log = logging.getLogger(__name__)


def schema() -> type:
    """SegmentConfig + ``finetune`` (every cell) + ``semisup`` (the mean teacher, with semi_supervised)."""
    return with_sections(SegmentConfig, finetune=SegFinetuneSettings, semisup=MeanTeacherSettings)


def parse_mask_mapping(items: list[str] | None) -> dict[str, int] | None:
    if not items:
        return None
    mapping: dict[str, int] = {}
    for item in items:
        value, sep, cls = item.partition("=")
        try:
            mapping[value.strip()] = int(cls)
        except ValueError:
            raise UserError(f"--mask-mapping {item!r}: expected VALUE=CLASS, e.g. 255=1 or 255,0,0=1") from None
        if not sep or not value.strip():
            raise UserError(f"--mask-mapping {item!r}: expected VALUE=CLASS, e.g. 255=1 or 255,0,0=1")
    return mapping


def resize_record(dataset, size: int) -> dict:  # noqa: ANN001
    """How the training images were resized, so that predict can do the same to new images."""
    sizes = {(info.height, info.width) for info in (probe_image(p) for p, _ in dataset.pairs)}
    if sizes == {(size, size)}:
        return {"mode": "none"}
    if len(sizes) == 1:
        return {"mode": "scale", "factor": size / min(next(iter(sizes)))}
    return {"mode": "shorter_side"}


DEFAULT_TEST_FRACTION = 0.2  # the seeded hold-out when the data declare no test split


def _lists_apply(found: Discovery) -> bool:
    """Whether the card's committed split lists decide the split: split folders in the data win, and a
    folder that is not the card's copy of the data (a subset, see ``lists_fit``) is read whole."""
    card = found.card
    if card is None or not card.split_lists or found.splits:
        return False
    return lists_fit(card, Path(found.path) / (card.segmentation.images_dir if card.segmentation else "images"))


def test_source(cfg: Any, found: Discovery) -> str:
    """Where the test set comes from, in this order: ``test.path`` (--test-data), the data's test/ folder,
    a seeded hold-out when ``grid.test_fraction`` is given, the card's test split list, else a hold-out
    of 0.2. A --test-fraction next to --test-data or a test/ folder contradicts it: an error."""
    given = cfg.grid.test_fraction is not None
    own = "test.path" if cfg.test.path is not None else ("test/ folder" if "test" in found.splits else None)
    if own is not None:
        if given:
            raise UserError(f"--test-fraction {cfg.grid.test_fraction} draws a hold-out, but the test set is "
                            f"the {'--test-data folder' if own == 'test.path' else 'test/ folder of --data'}; "
                            "drop one of them")
        return own
    if given:
        return "holdout"
    if _lists_apply(found) and "test" in found.card.split_lists:  # type: ignore[union-attr]
        return "card split list"
    return "holdout"


def load_pool_and_test(cfg: Any, reading: dict[str, Any]) -> tuple[Any, SegData, SegData | None, dict[str, Any]]:
    """The training pool's dataset and pairs, the test pairs (None: a seeded hold-out of the pool), and
    what run.json records about where each came from (see :func:`test_source`)."""
    source, size_wanted = Path(cfg.data.path), cfg.data.image_size
    found = discover(source, cfg.data.card, "segmentation", size_wanted)
    test_from = test_source(cfg, found)
    # the card's lists split the pool only when they also give the test set; else every pair is the pool
    pool_split = "all" if test_from in ("test.path", "holdout") and _lists_apply(found) else None
    dataset = build_dataset(source, size_wanted, found=found, split=pool_split, **reading)
    data = load_seg_data(dataset, num_classes=cfg.data.num_classes, where=str(source))
    test, test_record = None, None
    if test_from != "holdout":
        test_path = Path(cfg.test.path) if test_from == "test.path" else source
        test_ds = build_dataset(test_path, size_wanted, card=dataset.card or False, layout="segmentation",
                                split=None if test_from == "test.path" else "test", **reading)
        test = load_seg_data(test_ds, classes=data.classes, where=str(test_path))
        test_record = test_ds.split_record
    return dataset, data, test, {"test": test_from, "train": dataset.split_record, "test_split": test_record}


def run(cfg: Any, out: Path, device: str, progress: bool = True) -> SegSweepResult:
    """The sweep ``cfg`` (an instance of :func:`schema`) describes, written to ``out``; ``cfg.chosen`` is
    filled in with what the run decided (size, band mappings), for config.yaml."""
    train_settings, arch = cfg.finetune, cfg.model.arch
    if not 0 < train_settings.encoder_lr_mult and not train_settings.freeze_encoder:
        raise UserError(f"--encoder-lr-mult must be positive (use --freeze-encoder to keep it fixed), "
                        f"got {train_settings.encoder_lr_mult}")
    if arch.lower() not in architectures():
        raise UserError(f"unknown segmentation architecture {arch!r}; choose one of: {', '.join(architectures())}")
    specs = parse_backbone_specs(cfg.inits.backbones)
    encoder = cfg.model.encoder or sidecar_value(specs, "architecture")
    if not encoder:
        raise UserError("--encoder is required with random init or weights without a sidecar "
                        "(a timm name, e.g. resnet18)")
    encoder = smp_encoder_name(encoder)
    # names, files and recipe before any image is decoded (a typo must not cost a folder scan)
    check_backbone_name(timm_name(encoder), "--encoder")
    check_before_data(specs, None, cfg.inits.recipe, cfg.inits.band_map)
    if cfg.unlabeled_data is not None and not cfg.semi_supervised:
        raise UserError("--unlabeled-data is used by semi-supervised fine-tuning: add --semi-supervised")
    semisup = None
    if cfg.semi_supervised:
        semisup = cfg.semisup
        semisup.check()

    source, size_wanted = Path(cfg.data.path), cfg.data.image_size
    mapping = parse_mask_mapping(cfg.data.mask_mapping)
    reading = {"mask_mapping": mapping, "mask_suffix": cfg.data.mask_suffix, "skip_bad": cfg.data.skip_bad,
               "bands": parse_bands(cfg.data.bands),
               "want_channels": expected_in_chans(cfg.inits.backbones, cfg.inits.recipe, cfg.inits.band_map)}
    dataset, data, test, split_info = load_pool_and_test(cfg, reading)

    inits = segmentation_inits(specs, data.in_chans, encoder, cfg.inits.recipe, dataset.card, data.images,
                               data.band_names, cfg.inits.band_map)
    size_choice = native_size_choice(size_wanted, specs)
    log.info(size_choice.line(int(data.images.shape[-1])))
    record_choices(cfg, int(data.images.shape[-1]), size_choice, inits)
    geometry = geometry_for(cfg.inits.recipe, inits, dataset.card)
    recipe = recipe_for(cfg.inits.recipe, inits, dataset.card) if semisup else None
    unlabeled = None
    if cfg.unlabeled_data is not None:
        size = int(data.images.shape[-1])
        unlabeled_ds = build_dataset(Path(cfg.unlabeled_data), size, card=dataset.card or False,
                                     skip_bad=cfg.data.skip_bad)
        unlabeled = load_images(unlabeled_ds)

    native = (dataset.info.height, dataset.info.width)
    resize = resize_record(dataset, int(data.images.shape[-1]))
    settings = SegSweepSettings(
        fractions=cfg.grid.fractions, seeds=list(range(cfg.grid.seeds)), val_fraction=cfg.grid.val_fraction,
        test_fraction=cfg.grid.test_fraction or DEFAULT_TEST_FRACTION, train=train_settings,
        save_models="all" if cfg.save_all_models else "final",
        device=device, progress=progress, semisup=semisup,
    )
    size = int(data.images.shape[-1])
    title = cfg.title or f"Segmentation label efficiency on {source.name}"
    context = [f"Images {'resized to' if native != (size, size) else 'at their own size,'} {size} px"
               + (f" (from {native[1]}×{native[0]})" if native != (size, size) else "") + "."]
    return run_segmentation_sweep(
        inits, data, out, arch, encoder, test, settings, geometry, title, context,
        model_info={"card": dataset.card.name if dataset.card else None, "native_size": list(native),
                    "resize": resize, "mask_mapping": mapping, "split": split_info},
        recipe=recipe, unlabeled=unlabeled,
    )
