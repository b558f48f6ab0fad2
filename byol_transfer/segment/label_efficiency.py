"""Label efficiency for masks: inits × seeds × fractions of the masks → results.csv, report.md, plot.

The same protocol and files as the classification sweep (``eval/label_efficiency.py``), reusing its
split planner, results format, report and plot:

- a fixed test split: ``--test-data``, or a seeded hold-out of the images (``splits.json``);
- per seed, nested subsets of the rest (5% ⊂ 20% ⊂ 100%), each with a validation part carved off for
  model selection (best epoch by validation mIoU); image/mask pairs have no class label, so the subsets
  are drawn from one stratum;
- per cell, an smp model is built with the same seed for every init (so the decoder starts identical),
  its encoder loaded strictly from the init (random init: smp's own), fine-tuned, scored on the test
  split: mIoU, mDice and IoU/Dice per class, one row each in results.csv.

With ``settings.semisup`` (mean teacher), every cell is trained twice from the same start: supervised
(``unet-finetune``) and semi-supervised (``unet-semisup``: + the unlabelled images, by default the
training images outside the labelled subset), so the report compares them side by side.

Outputs in ``out_dir``: results.csv, report.md, label_efficiency.png, splits.json, run.json, and
models/<init>/ (model.safetensors + model.json, what ``byol-transfer predict`` needs) for the largest
fraction and first seed, or models/<init>/<fraction>-seed<k>/ for every cell with ``save_models="all"``.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..config import RecipeConfig
from ..errors import UserError
from ..eval.inits import RANDOM, Init
from ..eval.plots import plot_label_efficiency
from ..eval.report import ResultRow, render_report, write_results
from ..eval.splits import labels_digest, plan_splits, save_splits
from ..eval.train_transforms import Geometry
from ..io import atomic_write_text
from ..machine import describe_machine
from ..semisup.mean_teacher import MeanTeacher, MeanTeacherSettings
from ..semisup.pool import UnlabeledPool
from .smp_transfer import (
    copy_backbone_into_encoder,
    create_segmentation_model,
    input_multiple,
    save_segmentation_model,
    smp_encoder_name,
    transform_to_dict,
)
from .train_seg import SegTrainSettings, evaluate, metrics_from_counts, train_segmentation

log = logging.getLogger(__name__)

MAIN_METRICS = ("mIoU", "mDice")


@dataclass
class SegData:
    """Image/mask pairs in memory: raw images N×C×H×W (native dtype) and masks N×H×W (long)."""

    images: torch.Tensor
    masks: torch.Tensor
    names: list[str]  # relative image paths: the identity of the data in splits.json
    classes: list[str]
    root: str = ""
    band_names: list[str] | None = None

    @property
    def in_chans(self) -> int:
        return int(self.images.shape[1])

    def digest(self) -> str:
        return labels_digest(self.names, [0] * len(self.names))


def load_seg_data(dataset: Dataset, classes: Sequence[str] | None = None, num_classes: int | None = None,
                  where: str = "data") -> SegData:
    """Read every pair of a segmentation dataset (``build_dataset`` on images/ + masks/) and check the masks.

    The classes are ``classes``, else the dataset's (its data card's), else ``num_classes`` unnamed
    ones, else 0 … max(mask value); a mask value outside them is an error naming the mask file.
    """
    pairs = getattr(dataset, "pairs", None)
    if pairs is None:
        raise UserError(f"{where}: not image/mask pairs; a segmentation folder holds images/ and masks/")
    loader = DataLoader(dataset, batch_size=32, shuffle=False, num_workers=0,
                        collate_fn=lambda batch: batch)
    images, masks = [], []
    for batch in loader:
        for sample in batch:
            images.append(sample["image"])
            masks.append(sample["mask"])
    sizes = {tuple(i.shape[-2:]) for i in images}
    if len(sizes) > 1:
        raise UserError(f"{where}: images have different sizes {sorted(sizes)[:3]}; pass --image-size to "
                        "resize them to one square size")
    images_t, masks_t = torch.stack(images), torch.stack(masks).long()
    names_given = list(classes or getattr(dataset, "classes", None) or [])
    if names_given:
        class_names = names_given
    elif num_classes:
        class_names = [f"class_{i}" for i in range(num_classes)]
    else:
        values = torch.unique(masks_t).tolist()
        count = int(max(values)) + 1
        if count > 2 * len(values) and count > 2:
            raise UserError(f"{where}: masks hold the values {values[:6]}{' ...' if len(values) > 6 else ''}, "
                            f"not class indices 0 … N-1; declare what they mean, e.g. --mask-mapping "
                            f"{' '.join(f'{v}={i}' for i, v in enumerate(values[:4]))} (or --num-classes)")
        class_names = [f"class_{i}" for i in range(max(2, count))]
    n = len(class_names)
    too_high = (masks_t.flatten(1).amax(1) >= n) | (masks_t.flatten(1).amin(1) < 0)
    if too_high.any():
        i = int(too_high.nonzero()[0])
        bad = sorted(v for v in torch.unique(masks_t[i]).tolist() if not 0 <= v < n)
        raise UserError(f"{pairs[i][1]}: mask values {bad[:5]} are not class indices 0 … {n - 1} "
                        f"({', '.join(class_names)}); declare what they mean with --mask-mapping VALUE=CLASS ...")
    root = Path(getattr(dataset, "root", ""))
    names = []
    for image_path, _ in pairs:
        try:
            names.append(Path(image_path).relative_to(root).as_posix())
        except ValueError:
            names.append(str(image_path))
    return SegData(images_t, masks_t, names, class_names, str(root), getattr(dataset, "band_names", None))


@dataclass
class SegSweepSettings:
    fractions: Sequence[float] = (1.0,)
    seeds: Sequence[int] = (0,)
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    train: SegTrainSettings = field(default_factory=SegTrainSettings)
    save_models: Literal["final", "all", "none"] = "final"
    device: str = "cpu"
    progress: bool = True
    semisup: MeanTeacherSettings | None = None  # set: also train each cell with the mean teacher


@dataclass
class SegSweepResult:
    out_dir: Path
    results_csv: Path
    report_md: Path
    plot_png: Path
    rows: list[ResultRow]
    model_dirs: list[Path]


def evaluator_name(arch: str, freeze_encoder: bool, semisup: bool = False) -> str:
    if semisup:
        return f"{arch}-{'frozen-' if freeze_encoder else ''}semisup"
    return f"{arch}-{'frozen' if freeze_encoder else 'finetune'}"


def run_segmentation_sweep(
    inits: Sequence[Init],
    data: SegData,
    out_dir: str | Path,
    arch: str,
    encoder: str,
    test_data: SegData | None = None,
    settings: SegSweepSettings | None = None,
    geometry: Geometry | None = None,
    title: str = "Label efficiency (segmentation)",
    context: Sequence[str] = (),
    model_info: dict[str, Any] | None = None,
    recipe: RecipeConfig | None = None,
    unlabeled: torch.Tensor | None = None,
) -> SegSweepResult:
    """Fine-tune ``arch`` with ``encoder`` (timm name or ``tu-`` name) for every init × seed × fraction.

    ``recipe`` (its views) and ``unlabeled`` (raw images, default: the training images outside each
    labelled subset) are for the mean teacher only (``settings.semisup``).
    """
    settings = settings or SegSweepSettings()
    geometry = geometry or Geometry()
    encoder = smp_encoder_name(encoder)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if test_data is not None:
        if test_data.in_chans != data.in_chans:
            raise UserError(f"the test data have {test_data.in_chans} channel(s), the training data {data.in_chans}")
        if test_data.images.shape[-2:] != data.images.shape[-2:]:
            raise UserError(f"test images are {tuple(test_data.images.shape[-2:])} px, training images "
                            f"{tuple(data.images.shape[-2:])}; use the same --image-size")
    num_classes = len(data.classes)
    size = int(data.images.shape[-1])
    started = time.perf_counter()

    plan = plan_splits(
        np.zeros(len(data.names), dtype=np.int64), data.digest(), settings.fractions, settings.seeds,
        test_digest=None if test_data is None else test_data.digest(),
        test_fraction=settings.test_fraction, val_fraction=settings.val_fraction,
        stored=out_dir / "splits.json",
    )
    save_splits(plan, out_dir / "splits.json")
    if test_data is not None:
        test_images, test_masks = test_data.images, test_data.masks
    else:
        test_images, test_masks = data.images[torch.as_tensor(plan.test)], data.masks[torch.as_tensor(plan.test)]
    fractions = sorted(float(f) for f in set(settings.fractions))
    seeds = [int(s) for s in settings.seeds]
    device = torch.device(settings.device)
    modes = [False] + ([True] if settings.semisup is not None else [])
    if settings.semisup is not None:
        settings.semisup.check()
        if recipe is None:
            raise UserError("semi-supervised segmentation builds its strong view from a recipe: pass --recipe")
        if unlabeled is not None and tuple(unlabeled.shape[1:]) != tuple(data.images.shape[1:]):
            raise UserError(f"unlabelled images are {tuple(unlabeled.shape[1:])} (channels, height, width), "
                            f"the training images {tuple(data.images.shape[1:])}; use the same --image-size")

    def pool_for(subset: torch.Tensor) -> torch.Tensor:
        if unlabeled is not None:
            return unlabeled
        held_out = torch.ones(len(data.names), dtype=torch.bool)
        held_out[subset] = False
        if test_data is None:
            held_out[torch.as_tensor(plan.test)] = False
        return data.images[held_out]

    rows: list[ResultRow] = []
    model_dirs: list[Path] = []
    cells: list[dict[str, Any]] = []
    bar = tqdm(total=len(inits) * len(seeds) * len(fractions) * len(modes), disable=not settings.progress,
               desc="segment", unit="model", dynamic_ncols=True)
    for init in inits:
        for seed in seeds:
            for fraction in fractions:
                train_idx, val_idx = (torch.as_tensor(i) for i in plan.subset(seed, fraction))
                for semisup in modes:
                    evaluator = evaluator_name(arch, settings.train.freeze_encoder, semisup)
                    bar.set_postfix_str(f"{init.name} seed {seed} {fraction:g} {evaluator}")
                    with torch.random.fork_rng(devices=[]):  # same decoder init for every init of a seed
                        torch.manual_seed(seed)
                        model = create_segmentation_model(arch, encoder, data.in_chans, num_classes)
                    if size % input_multiple(model):
                        raise UserError(f"{arch} with {encoder} needs image sizes that are multiples of "
                                        f"{input_multiple(model)}; the images are {size} px (set --image-size)")
                    if init.source != RANDOM:
                        copy_backbone_into_encoder(model, init.backbone, encoder, init.source)
                    consistency, pool_size = None, 0
                    if semisup:
                        pool = pool_for(torch.cat([train_idx, val_idx]))
                        pool_size = len(pool)
                        if pool_size:
                            consistency = _mean_teacher(pool, seed, recipe, init, num_classes, settings)
                        else:
                            log.warning("seed %d, %g: no unlabelled tiles outside the labelled ones; semisup "
                                        "is plain fine-tuning", seed, fraction)
                    # Kornia draws view parameters from the global RNG: seeded per cell, caller's RNG kept
                    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                        torch.manual_seed(seed)
                        result = train_segmentation(
                            model, init.transform, data.images[train_idx], data.masks[train_idx],
                            data.images[val_idx], data.masks[val_idx], data.classes, geometry, settings.train,
                            seed, device, consistency=consistency)
                    counts, _ = evaluate(model, test_images, test_masks, init.transform, num_classes, device,
                                         settings.train.eval_batch_size)
                    metrics = metrics_from_counts(counts, data.classes)
                    n_labels = len(train_idx) + len(val_idx)
                    rows += [ResultRow(init.name, evaluator, fraction, n_labels, seed, metric, value)
                             for metric, value in metrics.items()]
                    write_results(rows, out_dir / "results.csv")  # partial results survive a crash
                    cell = {"init": init.name, "evaluator": evaluator, "seed": seed, "fraction": fraction,
                            "n_labels": n_labels, "n_train": len(train_idx), "n_val": len(val_idx),
                            "n_unlabeled": pool_size, "best_epoch": result.best_epoch,
                            "epochs_run": result.epochs_run, "val_mIoU": result.val_miou,
                            "test_mIoU": metrics["mIoU"], "consistency": result.consistency_stats,
                            "history": result.history}
                    cells.append(cell)
                    folder_name = f"{init.name}-semisup" if semisup else init.name
                    folder = _model_folder(out_dir, folder_name, fraction, seed, fractions, seeds, settings.save_models)
                    if folder is not None:
                        meta = {
                            "arch": arch, "encoder": encoder, "in_chans": data.in_chans, "classes": data.classes,
                            "tile_size": size, **transform_to_dict(init.transform),
                            "band_names": data.band_names, "init": init.name, "init_source": init.source,
                            "init_architecture": init.architecture, "recipe": init.recipe,
                            "freeze_encoder": settings.train.freeze_encoder, "semi_supervised": semisup,
                            "fraction": fraction, "seed": seed,
                            "n_labels": n_labels, "best_epoch": result.best_epoch, "val_mIoU": result.val_miou,
                            "test": metrics, "data": data.root, **(model_info or {}),
                        }
                        model_dirs.append(save_segmentation_model(folder, model, meta))
                    bar.update(1)
    bar.close()

    test_desc = (f"{len(test_masks)} image/mask pairs ("
                 + ("its own folder" if test_data is not None else "a fixed seeded hold-out, see splits.json") + ")")
    context = [*context,
               f"Model: smp {arch}, encoder {encoder}, "
               f"{'frozen encoder' if settings.train.freeze_encoder else 'fine-tuned end to end'}; "
               f"{num_classes} classes ({', '.join(data.classes)}); test set: {test_desc}. "
               "IoU/Dice over all test pixels; means over classes.",
               "Inits: " + ", ".join(f"`{i.name}` ({i.architecture}, {i.source})" for i in inits) + "."]
    if settings.semisup is not None:
        mt = settings.semisup
        pool = (f"{len(unlabeled)} unlabelled images" if unlabeled is not None
                else "the training images outside each labelled subset")
        context.append(f"`{evaluator_name(arch, settings.train.freeze_encoder, True)}`: the same fine-tuning plus "
                       f"a mean teacher on {pool} (EMA {mt.ema}, threshold {mt.threshold}, mu {mt.mu}, weight "
                       f"{mt.weight}, ramp-up {mt.rampup:g} of the steps, strong view from recipe `{recipe.name}`); "
                       "the teacher is evaluated.")
    metric_order = list(MAIN_METRICS) + [m for c in data.classes for m in (f"IoU[{c}]", f"Dice[{c}]")]
    results_csv = out_dir / "results.csv"
    report_md = out_dir / "report.md"
    atomic_write_text(report_md, render_report(rows, title, context, metrics=metric_order))
    plot = plot_label_efficiency(results_csv, out_dir / "label_efficiency.png", metrics=list(MAIN_METRICS),
                                 title=title)
    _write_run_json(out_dir / "run.json", inits, data, test_data, arch, encoder, settings, geometry, cells,
                    time.perf_counter() - started)
    return SegSweepResult(out_dir, results_csv, report_md, plot, rows, model_dirs)


def _mean_teacher(pool: torch.Tensor, seed: int, recipe: RecipeConfig, init: Init, num_classes: int,
                  settings: SegSweepSettings):  # noqa: ANN202
    semisup, train, device = settings.semisup, settings.train, settings.device

    def build(student: torch.nn.Module) -> MeanTeacher:
        return MeanTeacher(student, UnlabeledPool(pool, seed), recipe, init.transform, num_classes,
                           train.batch_size, semisup, device)

    return build


def _model_folder(out_dir: Path, init: str, fraction: float, seed: int, fractions: list[float],
                  seeds: list[int], save: str) -> Path | None:
    if save == "all":
        return out_dir / "models" / init / f"{fraction * 100:g}pct-seed{seed}"
    if save == "final" and fraction == fractions[-1] and seed == seeds[0]:
        return out_dir / "models" / init
    return None


def _write_run_json(path: Path, inits: Sequence[Init], data: SegData, test_data: SegData | None, arch: str,
                    encoder: str, settings: SegSweepSettings, geometry: Geometry, cells: list[dict],
                    elapsed: float) -> None:
    import segmentation_models_pytorch as smp
    import timm

    from .. import __version__

    def describe(d: SegData) -> dict[str, Any]:
        return {"root": d.root, "items": len(d.names), "classes": d.classes, "sha256": d.digest(),
                "image_size": list(d.images.shape[-2:]), "in_chans": d.in_chans}

    info = {
        "arch": arch, "encoder": encoder,
        "inits": [{"name": i.name, "source": i.source, "architecture": i.architecture, "recipe": i.recipe,
                   "weights_sha256": i.weights_hash} for i in inits],
        "data": describe(data),
        "test": describe(test_data) if test_data is not None else {"source": "holdout"},
        "settings": asdict(settings),
        "geometry": asdict(geometry),
        "cells": cells,
        "machine": describe_machine(),
        "versions": {"byol_transfer": __version__, "torch": torch.__version__, "timm": timm.__version__,
                     "segmentation_models_pytorch": smp.__version__, "python": platform.python_version()},
        "elapsed_s": round(elapsed, 1),
    }
    atomic_write_text(path, json.dumps(info, indent=2, default=str) + "\n")
