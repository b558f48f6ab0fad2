"""``make demo``: the whole job on embedded data, no download, a few minutes on 2 CPU cores.

The data are **real** handwritten digits (the UCI optical digits set that scikit-learn ships inside its
package: 1,797 grayscale 8×8 scans, 10 classes), written out as 32×32 PNG files in class folders so the
demo exercises the same image-folder reader a user's data go through. Steps:

1. write the PNGs (deterministic) under ``datasets/demo_digits/generated`` with a stratified 80/20 split;
2. BYOL-pretrain ``byol_tiny_cnn`` on the training images *without* their labels;
3. export the backbone to safetensors and load it back strictly into timm;
4. k-NN accuracy on the test split, BYOL encoder beside the same architecture at random init.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .augment.recipes import build_eval_transform, load_recipe
from .config import PretrainConfig, to_dict
from .data.image_folder import ImageFolderDataset
from .errors import UserError
from .eval.features import extract_features
from .eval.knn import knn_accuracy
from .models.backbones import create_backbone
from .train.export import export_backbone, load_backbone
from .train.loop import pretrain
from .train.run_config import resolve_config

IMAGE_SIZE = 32
DEFAULT_DATA = Path("datasets/demo_digits/generated")


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


def knn_of(backbone: torch.nn.Module, train: ImageFolderDataset, test: ImageFolderDataset, recipe) -> dict:
    transform = build_eval_transform(recipe, train.in_chans)
    train_f, train_y = extract_features(backbone, train, transform)
    test_f, test_y = extract_features(backbone, test, transform)
    return knn_accuracy(train_f, train_y, test_f, test_y, ks=(10, 20))


def run_demo(out: Path, data_root: Path, epochs: int, seed: int, progress: bool = True) -> dict:
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
        },
        [],
    )
    unlabeled = ImageFolderDataset(train_dir, IMAGE_SIZE)  # labels are not read for pretraining
    print(f"[2/4] BYOL pretraining {cfg.model.backbone} on {len(unlabeled)} unlabeled images, {epochs} epochs")
    result = pretrain(cfg, unlabeled, out / "pretrain", progress=progress)

    export_path, meta = export_backbone(result.run_dir, out / "backbone.safetensors")
    byol_backbone = load_backbone(export_path)
    print(f"[3/4] exported {export_path} and loaded it strictly into timm ({meta['architecture']})")

    train = ImageFolderDataset(train_dir, IMAGE_SIZE, labeled=True)
    test = ImageFolderDataset(test_dir, IMAGE_SIZE, labeled=True)
    torch.manual_seed(seed)
    random_backbone = create_backbone(cfg.model.backbone, train.in_chans)
    scores = {"BYOL": knn_of(byol_backbone, train, test, cfg.recipe),
              "random init": knn_of(random_backbone, train, test, cfg.recipe)}
    print(f"[4/4] k-NN accuracy on {len(test)} test digits ({len(train)} labelled training digits):")
    print(f"      {'init':<12} {'k=10':>7} {'k=20':>7}")
    for name, acc in scores.items():
        print(f"      {name:<12} {acc[10] * 100:6.1f}% {acc[20] * 100:6.1f}%")
    print(f"done in {time.perf_counter() - started:.0f} s; run folder: {out}")
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m byol_transfer.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=60)
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
