"""``make demo``: the whole job on embedded data, no download, a few minutes on 2 CPU cores.

The data are **real** handwritten digits (the UCI optical digits set that scikit-learn ships inside its
package: 1,797 grayscale 8×8 scans, 10 classes), written out as 32×32 PNG files in class folders so the
demo exercises the same image-folder reader a user's data go through. Steps:

1. write the PNGs (deterministic) under ``datasets/demo_digits/generated`` with a stratified 80/20 split;
2. BYOL-pretrain ``byol_tiny_cnn`` on the training images *without* their labels;
3. export the backbone to safetensors (loaded back strictly into timm by the next step);
4. label efficiency: k-NN, linear probe and fine-tuning with 1%, 10% and 100% of the training labels
   (3 seeds of nested stratified subsets), BYOL encoder beside the same architecture at random init,
   scored on the test split → ``label_efficiency/{results.csv, report.md, label_efficiency.png}``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

from .augment.recipes import load_recipe
from .config import PretrainConfig, to_dict
from .data.build import build_dataset
from .data.datasets.image_folder import ImageFolderDataset
from .errors import UserError
from .features.labelled import LabelledData
from .train.export import export_backbone
from .train.loop import pretrain
from .train.run_config import resolve_config
from .transfer.evaluators.finetune import FinetuneSettings
from .transfer.evaluators.knn import KnnSettings
from .transfer.geometry import Geometry
from .transfer.inits import build_inits
from .transfer.report import format_fraction, read_results, seed_rows, summarize
from .transfer.tasks.classification import SweepSettings, run_label_efficiency

IMAGE_SIZE = 32
DEFAULT_DATA = Path("datasets/demo_digits/generated")
FRACTIONS = (0.01, 0.1, 1.0)
SEEDS = 3
FINETUNE_EPOCHS = 8  # at most (early stopping on validation); keeps the demo within 10 minutes on 2 cores


def write_digits(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """sklearn's bundled digits → ``root/{train,test}/<digit>/<n>.png`` (32×32, uint8); idempotent."""
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    train_dir, test_dir = root / "train", root / "test"
    marker = root / ".complete"
    if marker.exists():
        return train_dir, test_dir
    digits = load_digits()
    images = (digits.images / 16.0 * 255).round().astype(np.uint8)  # 0..16 ink levels → 8-bit
    index = np.arange(len(images))
    train_idx, test_idx = train_test_split(index, test_size=0.2, stratify=digits.target, random_state=seed)
    for split_dir, split_idx in ((train_dir, train_idx), (test_dir, test_idx)):
        for i in split_idx:
            folder = split_dir / str(digits.target[i])
            folder.mkdir(parents=True, exist_ok=True)
            image = Image.fromarray(images[i], mode="L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
            image.save(folder / f"{i:04d}.png")
    marker.touch()
    return train_dir, test_dir


def print_accuracy(results_csv: Path) -> None:
    """Test accuracy per evaluator × init (rows) and fraction (columns), from results.csv."""
    rows = seed_rows(read_results(results_csv))
    cells = summarize(rows)
    fractions = sorted({r.fraction for r in rows})
    n_labels = {r.fraction: r.n_labels for r in rows}
    inits = list(dict.fromkeys(r.init for r in rows))
    width = max(len(i) for i in inits) + 2
    header = "".join(f"{format_fraction(f) + f' ({n_labels[f]})':>16}" for f in fractions)
    print(f"      test accuracy (%), mean ± std over {len({r.seed for r in rows})} seed(s)")
    print(f"      {'evaluator':<10}{'init':<{width}}{header}")
    for evaluator in dict.fromkeys(r.evaluator for r in rows):
        for init in inits:
            text = ""
            for f in fractions:
                c = cells[("accuracy", init, evaluator, f)]
                text += f"{f'{c.mean * 100:.1f}' + ('' if c.n < 2 else f' ± {c.std * 100:.1f}'):>16}"
            print(f"      {evaluator:<10}{init:<{width}}{text}")


def run_demo(out: Path, data_root: Path, epochs: int, seed: int, progress: bool = True):
    started = time.perf_counter()
    train_dir, test_dir = write_digits(data_root)
    print(f"[1/4] data: real scikit-learn digits as 32x32 PNGs in {data_root} (train/ and test/)")

    recipe = load_recipe("grayscale")
    cfg: PretrainConfig = resolve_config(
        {"recipe": to_dict(recipe)}, "demo",
        {
            "data.path": str(train_dir), "data.image_size": IMAGE_SIZE, "data.batch_size": 128,
            "data.num_workers": 0, "model.backbone": "byol_tiny_cnn", "model.projector_hidden": 1024,
            "model.predictor_hidden": 1024, "train.epochs": epochs, "train.seed": seed,
            "train.checkpoint_every": 10_000, "optim.name": "adamw", "optim.base_lr": 2e-3,
            "optim.weight_decay": 1e-4, "ema.base_tau": 0.99,
            # fp32, not the default `auto`: auto picks bf16 on CPUs with AMX / AVX-512-BF16, and the demo's
            # table (docs, benchmarks/behaviour_check.py --demo) must be the same numbers on every machine;
            # at this size speed does not matter
            "train.precision": "fp32",
        },
        [],
    )
    # labels are not read for pretraining; 1,437 small PNGs are decoded once and held in memory
    unlabeled = build_dataset(train_dir, IMAGE_SIZE, card=False, cache=True)
    print(f"[2/4] BYOL pretraining {cfg.model.backbone} on {len(unlabeled)} unlabeled images, {epochs} epochs")
    result = pretrain(cfg, unlabeled, out / "pretrain", progress=progress)

    export_path, meta = export_backbone(result.run_dir, out / "backbone.safetensors")
    print(f"[3/4] exported {export_path} ({meta['architecture']}, {meta['training_steps']} steps)")

    # Random init: the same architecture and normalisation, read from the export's sidecar.
    train = ImageFolderDataset(train_dir, IMAGE_SIZE, labeled=True)
    data = LabelledData.from_dataset(train, where=str(train_dir))
    test = LabelledData.from_dataset(ImageFolderDataset(test_dir, IMAGE_SIZE, labeled=True), data.classes,
                                     where=str(test_dir))
    inits = build_inits([f"BYOL={export_path}", "random=random"], data.in_chans)
    settings = SweepSettings(
        fractions=FRACTIONS, seeds=tuple(range(SEEDS)), progress=progress,
        evaluators={"knn": KnnSettings(ks=[20]), "linear": None, "finetune": FinetuneSettings(epochs=FINETUNE_EPOCHS)},
    )
    print(f"[4/4] label efficiency on {len(test.labels)} test digits: BYOL vs random init, "
          f"{len(FRACTIONS)} fractions x {SEEDS} seeds x k-NN / linear probe / fine-tuning")
    sweep = run_label_efficiency(inits, data, out / "label_efficiency", test, settings,
                                 Geometry.from_recipe(cfg.recipe), title="Label efficiency on the demo digits")
    print_accuracy(sweep.results_csv)
    print(f"      report: {sweep.report_md}\n      plot:   {sweep.plot_png}")
    print(f"done in {time.perf_counter() - started:.0f} s; run folder: {out}")
    return sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m byol_transfer.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="byol-transfer: %(message)s")
    try:
        run_demo(args.out, args.data_root, args.epochs, args.seed)
    except UserError as e:
        print(f"demo: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
