"""byol-transfer segment: fine-tune an smp model (unet, fpn, deeplabv3plus, ...) whose encoder is a BYOL export.

--data is a folder with images/ and masks/ (matched by file stem: images/12.tif ↔ masks/12.png), or
one with train/ and test/ folders of that layout. A fixed test split is held out (first that applies:
--test-data, the test/ folder, a seeded --test-fraction of the pairs, the card's committed test list,
a seeded 20 %); the rest is the pool the labelled subsets are
drawn from: --fractions of it, per seed, with --val-fraction of each subset kept for choosing the best
epoch (validation mIoU).

Each --backbone is an init to compare: a BYOL export (.safetensors + .json sidecar, loaded strictly into
the encoder), any local timm weights file, or 'random'. Writes OUT/results.csv, OUT/report.md,
OUT/label_efficiency.png, OUT/splits.json, OUT/run.json and OUT/models/<init>/ (model.safetensors +
model.json: what `byol-transfer predict` needs) for the largest fraction and the first seed.

--semi-supervised trains every cell a second time with a mean teacher on unlabelled tiles (--unlabeled-data,
default: the training images whose masks the subset held out); the report then shows `unet-finetune` and
`unet-semisup` side by side, and the semi-supervised models go to OUT/models/<init>-semisup/.

Every flag sets a key of the command's settings (OUT/config.yaml records them all; --config FILE.yaml and
--set key=value set any of them, e.g. --set finetune.dice_weight=0.5).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.flags import Flag, add_flags
from ..config.resolve import resolve, write_resolved

# flag → key of the schema (transfer/commands/segment.py: config/sweep.py + finetune and semisup settings)
FLAGS = [
    Flag("--data", "data.path", "folder with images/ and masks/ (or train/ + test/ of those)", required=True),
    Flag("--card", "data.card", "data card (e.g. water_seg, kvasir_seg): mask mapping, classes, scaling, stats"),
    Flag("--test-data", "test.path", "a separate images/ + masks/ folder to score on"),
    Flag("--backbone", "inits.backbones", "an init: a BYOL export (.safetensors with its .json), a local timm "
         "weights file, or a baseline: 'random' (smp's encoder init) or 'kaiming' (torchvision's ResNet init); "
         "NAME= is optional; repeatable", metavar="NAME=WEIGHTS_OR_random",
         required=True, repeat=True),
    Flag("--arch", "model.arch", "smp architecture: unet, unetplusplus, fpn, deeplabv3plus, deeplabv3, manet, "
         "linknet, pspnet, pan, upernet, segformer"),
    Flag("--encoder", "model.encoder", "timm model name of the encoder, e.g. resnet18 (smp's tu-resnet18); "
         "default: the export's architecture"),
    Flag("--recipe", "inits.recipe", "recipe for value scaling/normalisation of random init and sidecar-less "
         "weights, and for the allowed flips/rotations (default: the export's, else the card's)"),
    Flag("--band-map", "inits.band_map", "weights for other bands than the data's: how the first conv's bands "
         "are filled, as in pretrain: TARGET=SOURCE pairs (names or 1-based numbers, SOURCE may be 'mean') or "
         "'repeat'; default: by band names (sidecar vs data card), others get the mean filter", metavar="MAP"),
    Flag("--freeze-encoder", "finetune.freeze_encoder", "train the decoder only; the encoder's weights and "
         "BatchNorm statistics stay fixed"),
    Flag("--fractions", "grid.fractions", "fractions of the training masks, e.g. 0.05 0.2 1.0"),
    Flag("--seeds", "grid.seeds", "number of labelled-subset seeds (0 … N-1)"),
    Flag("--epochs", "finetune.epochs", "maximum epochs"),
    Flag("--batch-size", "finetune.batch_size", "images per step"),
    Flag("--lr", "finetune.lr", "decoder learning rate (AdamW, cosine)"),
    Flag("--encoder-lr-mult", "finetune.encoder_lr_mult", "encoder LR = lr × this"),
    Flag("--min-epoch-samples", "finetune.min_epoch_samples", "an epoch repeats a small subset up to this many "
         "samples"),
    Flag("--patience", "finetune.patience", "stop after N epochs without validation gain (0: off)"),
    Flag("--image-size", "data.image_size", "resize (shorter side) + centre-crop images and masks to this square "
         "size; default: the images' own size (must be one size, a multiple of 32)"),
    Flag("--num-classes", "data.num_classes", "number of classes when no card declares them (default: largest "
         "mask value + 1)"),
    Flag("--mask-suffix", "data.mask_suffix", "what mask names add to their image's stem, e.g. _mask for "
         "images/a.png + masks/a_mask.png (default: detected when every mask shares one; a_mask_1.png etc. are "
         "further masks of the same image, merged by union)"),
    Flag("--bands", "data.bands", "bands to keep: 1-based numbers or names, e.g. 1 (the first channel of grey "
         "images stored as RGB; found automatically for 1-channel exports) or 4,3,2"),
    Flag("--mask-mapping", "data.mask_mapping", "what stored mask values mean, e.g. 0=0 255=1, or colours "
         "255,0,0=1", metavar="VALUE=CLASS"),
    Flag("--semi-supervised", "semi_supervised", "also train each cell with a mean teacher on unlabelled tiles, "
         "next to the supervised run"),
    Flag("--unlabeled-data", "unlabeled_data", "folder of unlabelled tiles (default: the training images outside "
         "the labelled subset)"),
    Flag("--semisup-threshold", "semisup.threshold", "teacher confidence a pixel needs to become a pseudo-label"),
    Flag("--semisup-mu", "semisup.mu", "unlabelled tiles per labelled tile in a step"),
    Flag("--semisup-weight", "semisup.weight", "weight of the unlabelled loss"),
    Flag("--semisup-rampup", "semisup.rampup", "fraction of the steps over which that weight ramps up (sigmoid; "
         "0: none)"),
    Flag("--teacher-ema", "semisup.ema", "EMA decay of the teacher"),
    Flag("--val-fraction", "grid.val_fraction", "of each labelled subset, for model selection"),
    Flag("--test-fraction", "grid.test_fraction", "a seeded hold-out of this size (wins over the card's "
         "split lists; default: the data's test split, else 0.2)"),
    Flag("--save-all-models", "save_all_models", "keep every fraction × seed model (default: the largest "
         "fraction, first seed)"),
    Flag("--device", "device", "auto, cpu, cuda or cuda:N"),
    Flag("--skip-bad", "data.skip_bad", "skip unreadable image/mask pairs instead of stopping"),
    Flag("--title", "title", "report title"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..transfer.commands.segment import schema

    p = sub.add_parser("segment", help="segmentation transfer with smp: BYOL encoder vs random init, few masks",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--no-progress", action="store_true")
    add_flags(p, schema(), FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..train.loop import resolve_device
    from ..transfer.commands import segment

    cfg = resolve(segment.schema(), args, FLAGS)
    result = segment.run(cfg, args.out, str(resolve_device(cfg.device)), progress=not args.no_progress)
    write_resolved(cfg, args.out)
    print(f"wrote {result.results_csv}, {result.report_md} and {result.plot_png}")
    for folder in result.model_dirs:
        print(f"model: {folder}")
    return 0
