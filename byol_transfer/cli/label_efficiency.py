"""byol-transfer label-efficiency: BYOL exports vs random init (or any local weights) at 1% … 100% labels.

Writes OUT/results.csv (tidy), OUT/report.md (mean ± std per cell, best marked), OUT/label_efficiency.png,
OUT/splits.json (the exact labelled subsets, reused when the run is repeated), OUT/selected.csv,
OUT/run.json and a feature cache in OUT/features/.

Data go through the data layer (as for pretraining): a folder with one subfolder per class (train/ and
test/ subfolders are the splits), a MedMNIST-style .npz (its own train/test arrays), a data card's split
files (--card), or --labels FILE listing `path<TAB>label` lines relative to --data, as in
../shared/data/eurosat_rgb_splits/train.txt. Without a test set a seeded stratified hold-out is used.

--semi-supervised adds the `semisup` evaluator next to `finetune`: the same fine-tuning plus FixMatch on
unlabelled images (--unlabeled-data, default: the --data images whose labels the subset held out), so
report.md and the plot compare fine-tuning with and without the unlabelled pool per fraction and init.

Every flag sets a key of the command's settings (OUT/config.yaml records them all; --config FILE.yaml and
--set key=value set any of them, e.g. --set settings.linear.max_iter=2000).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config.flags import Flag, add_flags
from ..config.resolve import merged_settings, write_resolved
from ..config.schema import from_dict


def _evaluator_list(text: str) -> list[str]:
    return [e.strip() for e in text.split(",") if e.strip()]


# flag → key of the schema (transfer/commands/label_efficiency.py: config/sweep.py + evaluator settings)
FLAGS = [
    Flag("--data", "data.path", "labelled training data: class folders, a folder with train/ and test/, or a "
         "MedMNIST-style .npz", required=True),
    Flag("--labels", "data.labels", "label list for --data: path<TAB>label lines (relative to --data)"),
    Flag("--test-data", "test.path", "labelled test data (default: --data/test, else a hold-out)"),
    Flag("--test-labels", "test.labels", "label list for the test set (relative to --test-data, or to --data "
         "without --test-data)"),
    Flag("--card", "data.card", "data card name (datasets/<name>/card.yaml): its classes and split files"),
    Flag("--backbone", "inits.backbones", "an init to compare: a BYOL export (.safetensors with its .json "
         "sidecar), any local timm weights file, or a baseline: 'random' (timm's init), 'kaiming' (torchvision's "
         "ResNet init) or 'channel-stats' (per-band statistics, k-NN and linear only); repeatable",
         metavar="NAME=WEIGHTS_OR_random",
         required=True, repeat=True),
    Flag("--arch", "model.arch", "timm architecture for random init and weights without a sidecar (default: the "
         "first export's)"),
    Flag("--recipe", "inits.recipe", "recipe whose scaling/normalisation random init and sidecar-less weights use "
         "(default: the first export's)"),
    Flag("--bands", "data.bands", "bands to keep: 1-based numbers or names, e.g. 1 (the first channel of grey "
         "images stored as RGB; found automatically for 1-channel exports) or 4,3,2"),
    Flag("--band-map", "inits.band_map", "weights for other bands than the data's: how the first conv's bands "
         "are filled, as in pretrain: TARGET=SOURCE pairs (names or 1-based numbers, SOURCE may be 'mean'; e.g. "
         "B04=red,B03=green,B02=blue) or 'repeat'; default: by band names (sidecar vs data card), others get the "
         "mean filter; recorded in config.yaml and run.json", metavar="MAP"),
    Flag("--image-size", "image_size", "square size images are resized to (default: the pretraining size the "
         "exports' sidecars record, which must agree; without one, the data's own)"),
    Flag("--fractions", "grid.fractions", "fractions of the labelled pool"),
    Flag("--seeds", "grid.seeds", "number of labelled-subset seeds (0 … N-1)"),
    Flag("--evaluators", "evaluators", "comma-separated: knn, linear, finetune, semisup (default: "
         "knn,linear,finetune)", parse=_evaluator_list),
    Flag("--knn-k", "settings.knn.ks", "k for k-NN (several give several rows)"),
    Flag("--epochs", "settings.finetune.epochs", "fine-tuning: maximum epochs (early stopping on val)"),
    Flag("--batch-size", "settings.finetune.batch_size", "fine-tuning batch size"),
    Flag("--lr", "settings.finetune.lr", "fine-tuning head LR (backbone: 0.1×)"),
    Flag("--patience", "settings.finetune.patience", "fine-tuning: stop after N epochs without validation gain "
         "(0: never; the best epoch is kept)"),
    Flag("--semi-supervised", "semi_supervised", "add the semisup evaluator: fine-tuning + FixMatch on the "
         "unlabelled images"),
    Flag("--unlabeled-data", "unlabeled_data", "unlabelled images for semisup (any layout the data layer reads; "
         "default: the --data images outside the labelled subset and the test split)"),
    Flag("--semisup-threshold", "settings.semisup.fixmatch.threshold", "confidence a weak-view prediction needs "
         "to become a pseudo-label"),
    Flag("--semisup-mu", "settings.semisup.fixmatch.mu", "unlabelled images per labelled image in a step"),
    Flag("--semisup-weight", "settings.semisup.fixmatch.weight", "weight of the unlabelled loss (lambda_u)"),
    Flag("--val-fraction", "grid.val_fraction", "of each labelled subset, for model selection"),
    Flag("--test-fraction", "grid.test_fraction", "hold-out size when there is no test set"),
    Flag("--device", "device", "auto, cpu, cuda or cuda:N"),
    Flag("--title", "title", "report title"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..transfer.commands.label_efficiency import schema

    p = sub.add_parser("label-efficiency", help="k-NN / linear probe / fine-tuning vs number of labels",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--cache-dir", type=Path, help="feature cache (default OUT/features)")
    p.add_argument("--no-progress", action="store_true")
    add_flags(p, schema(), FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..train.loop import resolve_device
    from ..transfer.commands import label_efficiency

    schema = label_efficiency.schema()
    data, where = merged_settings(args, FLAGS, config_file=args.config_file)
    label_efficiency.follow_finetune(data)
    cfg = from_dict(schema, data, where)
    device = str(resolve_device(cfg.device))
    result = label_efficiency.run(cfg, args.out, device, cache_dir=args.cache_dir, progress=not args.no_progress)
    write_resolved(cfg, args.out)
    print(f"wrote {result.results_csv}, {result.report_md} and {result.plot_png}")
    return 0
