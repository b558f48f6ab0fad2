"""byol-transfer segment: fine-tune an smp model (unet, fpn, deeplabv3plus, ...) whose encoder is a BYOL export.

--data is a folder with images/ and masks/ (matched by file stem: images/12.tif ↔ masks/12.png), or
one with train/ and test/ folders of that layout. A fixed test split is held out (the test/ folder,
--test-data, or a seeded --test-fraction of the pairs); the rest is the pool the labelled subsets are
drawn from: --fractions of it, per seed, with --val-fraction of each subset kept for choosing the best
epoch (validation mIoU).

Each --backbone is an init to compare: a BYOL export (.safetensors + .json sidecar, loaded strictly into
the encoder), any local timm weights file, or 'random'. Writes OUT/results.csv, OUT/report.md,
OUT/label_efficiency.png, OUT/splits.json, OUT/run.json and OUT/models/<init>/ (model.safetensors +
model.json: what `byol-transfer predict` needs) for the largest fraction and the first seed.

--semi-supervised trains every cell a second time with a mean teacher on unlabelled tiles (--unlabeled-data,
default: the training images whose masks the subset held out); the report then shows `unet-finetune` and
`unet-semisup` side by side, and the semi-supervised models go to OUT/models/<init>-semisup/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from . import arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="segmentation transfer with smp: BYOL encoder vs random init, few masks",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path,
                   help="folder with images/ and masks/ (or train/ + test/ of those)")
    p.add_argument("--card", help="data card (e.g. water_seg, kvasir_seg): mask mapping, classes, scaling, stats")
    p.add_argument("--test-data", type=Path, help="a separate images/ + masks/ folder to score on")
    p.add_argument("--backbone", dest="backbones", required=True, nargs="+", action="extend",
                   metavar="NAME=WEIGHTS_OR_random",
                   help="an init: a BYOL export (.safetensors with its .json), a local timm weights file, or "
                        "'random'; NAME= is optional; repeatable")
    p.add_argument("--arch", default="unet", help="smp architecture: unet, unetplusplus, fpn, deeplabv3plus, "
                   "deeplabv3, manet, linknet, pspnet, pan, upernet, segformer (default unet)")
    p.add_argument("--encoder", help="timm model name of the encoder, e.g. resnet18 (smp's tu-resnet18); "
                   "default: the export's architecture")
    p.add_argument("--recipe", help="recipe for value scaling/normalisation of random init and sidecar-less "
                   "weights, and for the allowed flips/rotations (default: the export's, else the card's)")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train the decoder only; the encoder's weights and BatchNorm statistics stay fixed")
    p.add_argument("--fractions", type=arguments.label_fraction, nargs="+", default=[1.0],
                   help="fractions of the training masks, e.g. 0.05 0.2 1.0 (default 1.0)")
    p.add_argument("--seeds", type=arguments.positive_int, default=1, help="number of labelled-subset seeds (0 … N-1)")
    p.add_argument("--epochs", type=arguments.positive_int, default=20)
    p.add_argument("--batch-size", type=arguments.positive_int, default=8)
    p.add_argument("--lr", type=arguments.positive_float, default=1e-3, help="decoder learning rate (AdamW, cosine)")
    p.add_argument("--encoder-lr-mult", type=arguments.non_negative_float, default=0.1, help="encoder LR = lr × this")
    p.add_argument("--min-epoch-samples", type=arguments.non_negative_int, default=128,
                   help="an epoch repeats a small subset up to this many samples")
    p.add_argument("--patience", type=arguments.non_negative_int, default=0,
                   help="stop after N epochs without validation gain (0: off)")
    p.add_argument("--image-size", type=arguments.image_size,
                   help="resize (shorter side) + centre-crop images and masks to this "
                   "square size; default: the images' own size (must be one size, a multiple of 32)")
    p.add_argument("--num-classes", type=arguments.number(int, ge=2),
                   help="number of classes when no card declares them "
                   "(default: largest mask value + 1)")
    p.add_argument("--mask-suffix", help="what mask names add to their image's stem, e.g. _mask for "
                   "images/a.png + masks/a_mask.png (default: detected when every mask shares one; "
                   "a_mask_1.png etc. are further masks of the same image, merged by union)")
    p.add_argument("--bands", help="bands to keep: 1-based numbers or names, e.g. 1 (the first channel of grey "
                   "images stored as RGB; found automatically for 1-channel exports) or 4,3,2")
    p.add_argument("--mask-mapping", nargs="+", metavar="VALUE=CLASS",
                   help="what stored mask values mean, e.g. 0=0 255=1, or colours 255,0,0=1")
    semi = p.add_argument_group("semi-supervised fine-tuning (mean teacher)")
    semi.add_argument("--semi-supervised", action="store_true",
                      help="also train each cell with a mean teacher on unlabelled tiles, next to the supervised run")
    semi.add_argument("--unlabeled-data", type=Path,
                      help="folder of unlabelled tiles (default: the training images outside the labelled subset)")
    semi.add_argument("--semisup-threshold", type=float, default=0.95,
                      help="teacher confidence a pixel needs to become a pseudo-label (default 0.95)")
    semi.add_argument("--semisup-mu", type=int, default=1, help="unlabelled tiles per labelled tile in a step")
    semi.add_argument("--semisup-weight", type=float, default=1.0, help="weight of the unlabelled loss")
    semi.add_argument("--semisup-rampup", type=float, default=0.1,
                      help="fraction of the steps over which that weight ramps up (sigmoid; 0: none)")
    semi.add_argument("--teacher-ema", type=float, default=0.99, help="EMA decay of the teacher")
    p.add_argument("--val-fraction", type=arguments.open_fraction, default=0.2,
                   help="of each labelled subset, for model selection")
    p.add_argument("--test-fraction", type=arguments.open_fraction, default=0.2,
                   help="hold-out size when there is no test set")
    p.add_argument("--save-all-models", action="store_true",
                   help="keep every fraction × seed model (default: the largest fraction, first seed)")
    p.add_argument("--device", type=arguments.device, default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable image/mask pairs instead of stopping")
    p.add_argument("--title", help="report title")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", required=True, type=Path, help="output folder")


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
    from ..data.formats.dispatch import probe_image

    sizes = {(info.height, info.width) for info in (probe_image(p) for p, _ in dataset.pairs)}
    if sizes == {(size, size)}:
        return {"mode": "none"}
    if len(sizes) == 1:
        return {"mode": "scale", "factor": size / min(next(iter(sizes)))}
    return {"mode": "shorter_side"}


def run(args: argparse.Namespace) -> int:
    from ..data.build import build_dataset
    from ..data.bands import parse_bands
    from ..data.labels import split_folders
    from ..features.extract import load_images
    from ..models.backbones import check_backbone_name
    from ..semisup.mean_teacher import MeanTeacherSettings
    from ..train.loop import resolve_device
    from ..transfer.evaluators.segment_finetune import SegFinetuneSettings
    from ..transfer.inits import (
        check_before_data,
        expected_in_chans,
        geometry_for,
        parse_backbone_specs,
        recipe_for,
        segmentation_inits,
        sidecar_value,
    )
    from ..transfer.tasks.segmentation.smp import architectures, smp_encoder_name, timm_name
    from ..transfer.tasks.segmentation.task import SegSweepSettings, load_seg_data, run_segmentation_sweep

    if not 0 < args.encoder_lr_mult and not args.freeze_encoder:
        raise UserError(f"--encoder-lr-mult must be positive (use --freeze-encoder to keep it fixed), "
                        f"got {args.encoder_lr_mult}")
    if args.arch.lower() not in architectures():
        raise UserError(f"unknown segmentation architecture {args.arch!r}; choose one of: {', '.join(architectures())}")
    specs = parse_backbone_specs(args.backbones)
    encoder = args.encoder or sidecar_value(specs, "architecture")
    if not encoder:
        raise UserError("--encoder is required with random init or weights without a sidecar "
                        "(a timm name, e.g. resnet18)")
    encoder = smp_encoder_name(encoder)
    # names, files and recipe before any image is decoded (a typo must not cost a folder scan)
    check_backbone_name(timm_name(encoder), "--encoder")
    check_before_data(specs, None, args.recipe)
    if args.unlabeled_data is not None and not args.semi_supervised:
        raise UserError("--unlabeled-data is used by semi-supervised fine-tuning: add --semi-supervised")
    semisup = None
    if args.semi_supervised:
        semisup = MeanTeacherSettings(threshold=args.semisup_threshold, mu=args.semisup_mu,
                                      weight=args.semisup_weight, ema=args.teacher_ema, rampup=args.semisup_rampup)
        semisup.check()

    mapping = parse_mask_mapping(args.mask_mapping)
    reading = {"mask_mapping": mapping, "mask_suffix": args.mask_suffix, "skip_bad": args.skip_bad,
               "bands": parse_bands(args.bands),
               "want_channels": expected_in_chans(args.backbones, args.recipe)}
    dataset = build_dataset(args.data, args.image_size, card=args.card, layout="segmentation", **reading)
    data = load_seg_data(dataset, num_classes=args.num_classes, where=str(args.data))
    test = None
    test_path = args.test_data
    if test_path is None and args.data.is_dir() and "test" in split_folders(args.data):
        test_path = args.data  # its test/ split
    if test_path is not None:
        test_ds = build_dataset(test_path, args.image_size, card=dataset.card or False, layout="segmentation",
                                split="test" if test_path == args.data else None, **reading)
        test = load_seg_data(test_ds, classes=data.classes, where=str(test_path))

    inits = segmentation_inits(specs, data.in_chans, encoder, args.recipe, dataset.card, data.images)
    geometry = geometry_for(args.recipe, inits, dataset.card)
    recipe = recipe_for(args.recipe, inits, dataset.card) if semisup else None
    unlabeled = None
    if args.unlabeled_data is not None:
        size = int(data.images.shape[-1])
        unlabeled_ds = build_dataset(args.unlabeled_data, size, card=dataset.card or False, skip_bad=args.skip_bad)
        unlabeled = load_images(unlabeled_ds)

    native = (dataset.info.height, dataset.info.width)
    resize = resize_record(dataset, int(data.images.shape[-1]))
    settings = SegSweepSettings(
        fractions=args.fractions, seeds=list(range(args.seeds)), val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        train=SegFinetuneSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               encoder_lr_mult=args.encoder_lr_mult, freeze_encoder=args.freeze_encoder,
                               min_epoch_samples=args.min_epoch_samples, patience=args.patience),
        save_models="all" if args.save_all_models else "final",
        device=str(resolve_device(args.device)), progress=not args.no_progress, semisup=semisup,
    )
    size = int(data.images.shape[-1])
    title = args.title or f"Segmentation label efficiency on {args.data.name}"
    context = [f"Images {'resized to' if native != (size, size) else 'at their own size,'} {size} px"
               + (f" (from {native[1]}×{native[0]})" if native != (size, size) else "") + "."]
    result = run_segmentation_sweep(
        inits, data, args.out, args.arch, encoder, test, settings, geometry, title, context,
        model_info={"card": dataset.card.name if dataset.card else None, "native_size": list(native),
                    "resize": resize, "mask_mapping": mapping},
        recipe=recipe, unlabeled=unlabeled,
    )
    print(f"wrote {result.results_csv}, {result.report_md} and {result.plot_png}")
    for folder in result.model_dirs:
        print(f"model: {folder}")
    return 0
