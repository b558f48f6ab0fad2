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
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UserError
from . import arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label-efficiency", help="k-NN / linear probe / fine-tuning vs number of labels",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="labelled training data: class folders, a folder "
                   "with train/ and test/, or a MedMNIST-style .npz")
    p.add_argument("--labels", type=Path, help="label list for --data: path<TAB>label lines (relative to --data)")
    p.add_argument("--test-data", type=Path, help="labelled test data (default: --data/test, else a hold-out)")
    p.add_argument("--test-labels", type=Path, help="label list for the test set (relative to --test-data, "
                   "or to --data without --test-data)")
    p.add_argument("--card", help="data card name (datasets/<name>/card.yaml): its classes and split files")
    p.add_argument("--backbone", dest="backbones", required=True, nargs="+", action="extend",
                   metavar="NAME=WEIGHTS_OR_random",
                   help="an init to compare: a BYOL export (.safetensors with its .json sidecar), any local "
                        "timm weights file, or 'random'; repeatable")
    p.add_argument("--arch", help="timm architecture for random init and weights without a sidecar "
                   "(default: the first export's)")
    p.add_argument("--recipe", help="recipe whose scaling/normalisation random init and sidecar-less weights use "
                   "(default: the first export's)")
    p.add_argument("--bands", help="bands to keep: 1-based numbers or names, e.g. 1 (the first channel of grey "
                   "images stored as RGB; found automatically for 1-channel exports) or 4,3,2")
    p.add_argument("--image-size", type=arguments.image_size,
                   help="square size images are resized to (default: the first "
                   "export's pretraining size, else the data's own)")
    p.add_argument("--fractions", type=arguments.label_fraction, nargs="+", default=[0.01, 0.1, 1.0])
    p.add_argument("--seeds", type=arguments.positive_int, default=3, help="number of labelled-subset seeds (0 … N-1)")
    p.add_argument("--evaluators", default="knn,linear,finetune",
                   help="comma-separated: knn, linear, finetune, semisup")
    p.add_argument("--knn-k", type=arguments.positive_int, nargs="+", default=[20],
                   help="k for k-NN (several give several rows)")
    p.add_argument("--epochs", type=arguments.positive_int, default=30,
                   help="fine-tuning: maximum epochs (early stopping on val)")
    p.add_argument("--batch-size", type=arguments.positive_int, default=32, help="fine-tuning batch size")
    p.add_argument("--lr", type=arguments.positive_float, default=1e-2, help="fine-tuning head LR (backbone: 0.1×)")
    p.add_argument("--patience", type=arguments.non_negative_int, default=5,
                   help="fine-tuning: stop after N epochs without validation gain (0: never; the best epoch is kept)")
    semi = p.add_argument_group("semi-supervised fine-tuning (FixMatch)")
    semi.add_argument("--semi-supervised", action="store_true",
                      help="add the semisup evaluator: fine-tuning + FixMatch on the unlabelled images")
    semi.add_argument("--unlabeled-data", type=Path,
                      help="unlabelled images for semisup (any layout the data layer reads; default: the --data "
                           "images outside the labelled subset and the test split)")
    semi.add_argument("--semisup-threshold", type=float, default=0.95,
                      help="confidence a weak-view prediction needs to become a pseudo-label (default 0.95)")
    semi.add_argument("--semisup-mu", type=int, default=7, help="unlabelled images per labelled image in a step")
    semi.add_argument("--semisup-weight", type=float, default=1.0, help="weight of the unlabelled loss (lambda_u)")
    p.add_argument("--val-fraction", type=arguments.open_fraction, default=0.2,
                   help="of each labelled subset, for model selection")
    p.add_argument("--test-fraction", type=arguments.open_fraction, default=0.2,
                   help="hold-out size when there is no test set")
    p.add_argument("--device", type=arguments.device, default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--cache-dir", type=Path, help="feature cache (default OUT/features)")
    p.add_argument("--title", default=None, help="report title")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", required=True, type=Path, help="output folder")


def _sidecar_image_size(backbones: list[str]) -> int | None:
    from ..transfer.inits import parse_backbone_specs, sidecar_value

    size = sidecar_value(parse_backbone_specs(backbones), "image_size")
    return int(size) if size else None


def _declares_test_split(path: Path, card: str | None) -> bool:
    """Whether the data bring their own test split: train/+test/ folders, a card's test file, npz arrays."""
    from ..data.discover import resolve_card
    from ..data.labels import split_folders
    from ..data.formats.npz import npz_splits

    chosen, layout = resolve_card(path, card)
    if layout == "npz":
        archives = [path] if path.is_file() else sorted(path.glob("*.npz"))
        return len(archives) == 1 and "test" in npz_splits(archives[0])
    if path.is_dir() and split_folders(path):
        return True
    return bool(chosen and "test" in chosen.split_files and (path / chosen.split_files["test"]).is_file())


def _datasets(args: argparse.Namespace, image_size: int | None, with_test: bool = True):
    """(training data, test data or None) through the data layer: folders, label files, cards, npz."""
    from ..data.build import build_dataset

    from ..data.bands import parse_bands
    from ..transfer.inits import expected_in_chans

    # cache="auto": data that fit in memory are decoded once, before anything is written (a damaged file is
    # named before splits.json exists) and not again for every init
    common = {"card": args.card, "labeled": True, "bands": parse_bands(args.bands), "cache": "auto",
              "want_channels": expected_in_chans(args.backbones, args.recipe)}
    # split=None: the data's declared training split (train/ folder, card split file, npz train arrays)
    train = build_dataset(args.data, image_size, labels=args.labels, **common)
    if not with_test:
        return train, None
    if args.test_data is not None:
        test = build_dataset(args.test_data, image_size, labels=args.test_labels, **common)
    elif args.test_labels is not None:
        test = build_dataset(args.data, image_size, labels=args.test_labels, **common)
    elif args.labels is None and _declares_test_split(args.data, args.card):
        test = build_dataset(args.data, image_size, split="test", **common)
    else:
        test = None  # a seeded stratified hold-out of the training data, saved in splits.json
    return train, test


def run(args: argparse.Namespace) -> int:
    from ..features.labelled import LabelledData
    from ..semisup.fixmatch import FixMatchSettings
    from ..train.loop import resolve_device
    from ..transfer.evaluators.finetune import FinetuneSettings
    from ..transfer.evaluators.knn import KnnSettings
    from ..transfer.evaluators.semisup import SemisupSettings
    from ..transfer.geometry import Geometry
    from ..transfer.inits import build_inits, check_before_data, parse_backbone_specs, reference_recipe
    from ..transfer.tasks.classification import SweepSettings, run_label_efficiency

    evaluators = [e.strip() for e in args.evaluators.split(",") if e.strip()]
    if args.semi_supervised and "semisup" not in evaluators:
        evaluators.append("semisup")
    if args.unlabeled_data is not None and "semisup" not in evaluators:
        raise UserError("--unlabeled-data is used by semi-supervised fine-tuning: add --semi-supervised")
    semisup = FixMatchSettings(threshold=args.semisup_threshold, mu=args.semisup_mu, weight=args.semisup_weight)
    semisup.check()
    # names, files and recipe before any image is decoded (a typo must not cost a folder scan)
    check_before_data(parse_backbone_specs(args.backbones), args.arch, args.recipe)
    image_size = args.image_size or _sidecar_image_size(args.backbones)
    if image_size is None:  # the data's own size (the first image's short side) for every image
        first = _datasets(args, None, with_test=False)[0][0]["image"]
        image_size = int(min(first.shape[-2:]))
    train_ds, test_ds = _datasets(args, image_size)
    data = LabelledData.from_dataset(train_ds, where=str(args.data))
    test = None
    if test_ds is not None:
        test = LabelledData.from_dataset(test_ds, data.classes, where=str(args.test_data or args.data))
    inits = build_inits(args.backbones, data.in_chans, args.arch, args.recipe)
    recipe = reference_recipe(inits, args.recipe)
    geometry = Geometry.from_recipe(recipe)
    unlabeled = None
    if args.unlabeled_data is not None:
        from ..data.build import build_dataset

        unlabeled = build_dataset(args.unlabeled_data, image_size, card=args.card, labeled=False)
    finetune = FinetuneSettings(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience)
    own_settings = {"knn": KnnSettings(ks=list(args.knn_k)), "finetune": finetune,
                    "semisup": SemisupSettings(semisup, finetune)}
    settings = SweepSettings(
        fractions=args.fractions, seeds=list(range(args.seeds)),
        evaluators={name: own_settings.get(name) for name in evaluators},
        val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        device=str(resolve_device(args.device)), cache_dir=args.cache_dir, progress=not args.no_progress,
    )
    title = args.title or f"Label efficiency on {args.data}"
    context = [f"Images resized to {image_size} px."]
    if "semisup" in evaluators:
        pool = (f"{len(unlabeled)} images from {args.unlabeled_data}" if unlabeled is not None
                else "the training images outside each labelled subset")
        context.append(f"`semisup`: the `finetune` settings plus FixMatch on {pool} (threshold "
                       f"{args.semisup_threshold}, mu {args.semisup_mu}, weight {args.semisup_weight}, "
                       f"views from recipe `{recipe.name if recipe else '?'}`).")
    result = run_label_efficiency(inits, data, args.out, test, settings, geometry, title, context=context,
                                  recipe=recipe, unlabeled=unlabeled)
    print(f"wrote {result.results_csv}, {result.report_md} and {result.plot_png}")
    return 0
