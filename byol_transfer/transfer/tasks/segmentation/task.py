"""Segmentation as a sweep task: image/mask pairs in, mIoU / mDice / IoU and Dice per class out.

- data: :class:`SegData` (all pairs in memory), optional test pairs, optional unlabelled tiles for the
  mean teacher (default: the training images outside the labelled subset); image/mask pairs have no
  class label, so the labelled subsets are drawn from one stratum;
- model: an smp model (``--arch`` with the ``tu-`` encoder of the init's architecture), built with the
  cell's seed so that the decoder starts identical for every init of a seed; its encoder filled strictly
  from the init (random init: smp's own); loss: Dice + cross-entropy (``smp.losses``);
- train augmentation: the recipe's geometric invariances applied jointly to image and mask on the CPU
  (``transfer/geometry.py``), normalisation on the device; validation: mIoU (ties: lower loss);
- outputs besides results.csv: report.md, label_efficiency.png, run.json (with every cell's training
  history), predictions.npz (every cell's per-test-image confusion counts, what the mIoU interval
  resamples) and models/<init>/ (model.safetensors + model.json, what ``byol-transfer predict`` needs) for
  the largest fraction and first seed, or models/<init>/<fraction>-seed<k>/ for every cell with
  ``save_models="all"``; semi-supervised models go to models/<init>-semisup/.

Its evaluators (``evaluators/segment_finetune.py``, ``evaluators/segment_semisup.py``) name their rows
after the architecture: ``unet-finetune`` (``unet-frozen`` with a frozen encoder) and ``unet-semisup``.
:func:`run_segmentation_sweep` is the library call behind ``byol-transfer segment``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ....augment.views import EvalTransform
from ....config import RecipeConfig
from ....errors import UserError
from ....features.labelled import labels_digest
from ....io import atomic_write_text
from ....machine import describe_machine
from ....semisup.mean_teacher import MeanTeacherSettings
from ...evaluators import SEGMENTATION, Outcome, resolve
from ...evaluators.base import SegmentationCell
from ...evaluators.segment_finetune import SegFinetuneSettings
from ...evaluators.segment_semisup import SegSemisupSettings
from ...finetune import LoopResult, finetune
from ...geometry import Geometry, augment_pair, build_train_augment
from ...inits import RANDOM, Init
from ...intervals import Metric, miou
from ...metrics import confusion_counts_per_image, metrics_from_counts
from ...plots import plot_label_efficiency
from ...report import ResultRow, render_report
from ...splits import SplitPlan
from ...statistics import exact_estimate
from ...sweep import Grid, run_sweep
from .smp import (
    copy_backbone_into_encoder,
    create_segmentation_model,
    input_multiple,
    save_segmentation_model,
    smp_encoder_name,
    transform_to_dict,
)

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
    train: SegFinetuneSettings = field(default_factory=SegFinetuneSettings)
    save_models: Literal["final", "all", "none"] = "final"
    device: str = "cpu"
    progress: bool = True
    semisup: MeanTeacherSettings | None = None  # set: also train each cell with the mean teacher

    def evaluators(self) -> dict[str, Any]:
        """The evaluators this sweep runs, with their settings: fine-tuning, and the mean teacher if set."""
        chosen: dict[str, Any] = {"finetune": self.train}
        if self.semisup is not None:
            chosen["semisup"] = SegSemisupSettings(self.semisup, self.train)
        return chosen


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


class DiceCELoss(nn.Module):
    """``dice_weight`` · Dice + ``ce_weight`` · cross-entropy, both from ``smp.losses`` (multiclass)."""

    def __init__(self, dice_weight: float = 1.0, ce_weight: float = 1.0) -> None:
        super().__init__()
        import segmentation_models_pytorch as smp

        self.dice = smp.losses.DiceLoss("multiclass", from_logits=True)
        self.ce = smp.losses.SoftCrossEntropyLoss(smooth_factor=0.0)
        self.dice_weight, self.ce_weight = dice_weight, ce_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.dice_weight * self.dice(logits, target) + self.ce_weight * self.ce(logits, target)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, transform: EvalTransform,
             num_classes: int, device: torch.device | str = "cpu", batch_size: int = 16,
             loss_fn: nn.Module | None = None, per_image: bool = False) -> tuple[torch.Tensor, float]:
    """(4 × num_classes confusion counts, mean loss) of the model's argmax on raw ``images``;
    ``per_image``: the counts of every image instead, N × num_classes × 4."""
    device = torch.device(device)
    was_training = model.training
    model.eval()
    counts = []
    total_loss, n = 0.0, 0
    for chunk, target in zip(images.split(batch_size), masks.split(batch_size)):
        logits = model(transform(chunk.to(device))).float()
        target = target.to(device)
        if loss_fn is not None:
            total_loss += float(loss_fn(logits, target)) * len(chunk)
            n += len(chunk)
        counts.append(confusion_counts_per_image(logits.argmax(1).cpu(), target.cpu(), num_classes))
    model.train(was_training)
    counts = torch.cat(counts) if counts else torch.zeros(0, num_classes, 4, dtype=torch.long)
    return (counts if per_image else counts.sum(0).T), (total_loss / n if n else float("nan"))


class SegmentationHooks:
    """The fine-tuning loop's view of segmentation training (see ``transfer/finetune.py``)."""

    def __init__(self, transform: EvalTransform, train_images: torch.Tensor, train_masks: torch.Tensor,
                 val_images: torch.Tensor, val_masks: torch.Tensor, class_names: Sequence[str], geometry: Geometry,
                 settings: SegFinetuneSettings, seed: int, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.transform = transform.to(self.device)
        self.cpu_scaling = copy.deepcopy(transform.scaling).cpu()  # scaling happens before the CPU augmentation
        self.train_images, self.train_masks = train_images, train_masks
        self.val_images, self.val_masks = val_images, val_masks
        self.class_names = list(class_names)
        self.loss_fn = DiceCELoss(settings.dice_weight, settings.ce_weight)
        self.augment = build_train_augment(train_images.shape[-1], geometry, seed, tuple(settings.crop_scale))
        self.eval_batch_size = settings.eval_batch_size

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scaled = self.cpu_scaling(self.train_images[idx])
        pairs = [augment_pair(self.augment, image, mask) for image, mask in zip(scaled, self.train_masks[idx])]
        x = self.transform.normalize(torch.stack([p[0] for p in pairs]).to(self.device))
        return x, torch.stack([p[1] for p in pairs]).to(self.device)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(output, target)

    def validate(self, model: nn.Module) -> tuple[tuple[float, ...], dict[str, float]]:
        counts, val_loss = evaluate(model, self.val_images, self.val_masks, self.transform, len(self.class_names),
                                    self.device, self.eval_batch_size, self.loss_fn)
        miou = metrics_from_counts(counts, self.class_names)["mIoU"]
        return (-(miou if not math.isnan(miou) else -1.0), val_loss), {"val_loss": val_loss, "val_mIoU": miou}


def train_segmentation(
    model: nn.Module,
    transform: EvalTransform,
    train_images: torch.Tensor,
    train_masks: torch.Tensor,
    val_images: torch.Tensor,
    val_masks: torch.Tensor,
    class_names: Sequence[str],
    geometry: Geometry,
    settings: SegFinetuneSettings,
    seed: int,
    device: torch.device | str = "cpu",
    consistency=None,  # noqa: ANN001  (Callable[[nn.Module], Consistency] | None)
) -> LoopResult:
    """Fine-tune an smp model in place; it ends holding the best epoch's weights (by validation mIoU).

    Images are raw N×C×H×W tensors (any dtype), masks N×H×W class indices. With a teacher
    (``consistency``), the model ends holding the best epoch's *teacher* weights.
    """
    hooks = SegmentationHooks(transform, train_images, train_masks, val_images, val_masks, class_names, geometry,
                              settings, seed, device)
    model.to(hooks.device)
    return finetune(model, model.encoder, hooks, len(train_images), len(val_images) > 0, settings.schedule(), seed,
                    consistency)


@dataclass
class SegmentationTask:
    data: SegData
    arch: str
    encoder: str
    out_dir: Path
    test_data: SegData | None = None
    geometry: Geometry = field(default_factory=Geometry)
    recipe: RecipeConfig | None = None  # the mean teacher's strong view comes from it
    unlabeled: torch.Tensor | None = None  # raw unlabelled images (default: the held-out training images)
    settings: SegSweepSettings = field(default_factory=SegSweepSettings)
    title: str = "Label efficiency (segmentation)"
    context: Sequence[str] = ()
    model_info: dict[str, Any] = field(default_factory=dict)  # more model.json keys (card, resize, ...)
    progress_desc: str = "segment"
    progress_unit: str = "model"

    def __post_init__(self) -> None:
        self.plan: SplitPlan | None = None
        self.inits: list[Init] = []
        self.cells: list[dict[str, Any]] = []  # run.json's "cells"
        self.model_dirs: list[Path] = []

    @property
    def device(self) -> str:
        return self.settings.device

    @property
    def num_classes(self) -> int:
        return len(self.data.classes)

    # ---- the sweep's hooks -------------------------------------------------------------------------

    def check(self, inits: Sequence[Init]) -> None:
        self.inits = list(inits)
        test = self.test_data
        if test is not None:
            if test.in_chans != self.data.in_chans:
                raise UserError(f"the test data have {test.in_chans} channel(s), the training data "
                                f"{self.data.in_chans}")
            if test.images.shape[-2:] != self.data.images.shape[-2:]:
                raise UserError(f"test images are {tuple(test.images.shape[-2:])} px, training images "
                                f"{tuple(self.data.images.shape[-2:])}; use the same --image-size")

    def split_labels(self) -> np.ndarray:
        return np.zeros(len(self.data.names), dtype=np.int64)

    def digest(self) -> str:
        return self.data.digest()

    def test_digest(self) -> str | None:
        return None if self.test_data is None else self.test_data.digest()

    def bind(self, plan: SplitPlan) -> None:
        self.plan = plan
        if self.test_data is not None:
            self.test_images, self.test_masks = self.test_data.images, self.test_data.masks
        else:
            test = torch.as_tensor(plan.test)
            self.test_images, self.test_masks = self.data.images[test], self.data.masks[test]

    def prepare(self, init: Init) -> None:
        return None

    def cell(self, init: Init, prepared: None, seed: int, fraction: float, train_idx: np.ndarray,
             val_idx: np.ndarray) -> SegmentationCell:
        return SegmentationCell(self, init, seed, fraction, torch.as_tensor(train_idx), torch.as_tensor(val_idx))

    # ---- what evaluators use ----------------------------------------------------------------------

    def row_name(self, freeze_encoder: bool, semisup: bool) -> str:
        return evaluator_name(self.arch, freeze_encoder, semisup)

    def build_model(self, cell: SegmentationCell) -> nn.Module:
        """The smp model of a cell: decoder seeded (the same for every init of a seed), encoder from the init."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cell.seed)
            model = create_segmentation_model(self.arch, self.encoder, self.data.in_chans, self.num_classes)
        size = int(self.data.images.shape[-1])
        if size % input_multiple(model):
            raise UserError(f"{self.arch} with {self.encoder} needs image sizes that are multiples of "
                            f"{input_multiple(model)}; the images are {size} px (set --image-size)")
        if cell.init.source != RANDOM:  # random: smp's own encoder init; kaiming and exports: copied in
            copy_backbone_into_encoder(model, cell.init.backbone, self.encoder, cell.init.source)
        return model

    def pool(self, cell: SegmentationCell) -> torch.Tensor:
        """Unlabelled images for a cell: ``unlabeled``, else the training images outside its subset and the
        test split."""
        if self.unlabeled is not None:
            return self.unlabeled
        held_out = torch.ones(len(self.data.names), dtype=torch.bool)
        held_out[torch.cat([cell.train_idx, cell.val_idx])] = False
        if self.test_data is None:
            held_out[torch.as_tensor(self.plan.test)] = False
        return self.data.images[held_out]

    def fit(self, cell: SegmentationCell, model: nn.Module, settings: SegFinetuneSettings,
            consistency=None) -> LoopResult:  # noqa: ANN001
        """Train ``model`` on the cell's subset, seeded (Kornia draws from the global RNG; the caller's is kept)."""
        device = torch.device(self.device)
        data = self.data
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(cell.seed)
            return train_segmentation(model, cell.init.transform, data.images[cell.train_idx],
                                      data.masks[cell.train_idx], data.images[cell.val_idx], data.masks[cell.val_idx],
                                      data.classes, self.geometry, settings, cell.seed, device, consistency)

    def outcome(self, cell: SegmentationCell, model: nn.Module, result: LoopResult, settings: SegFinetuneSettings,
                semisup: bool, n_unlabeled: int) -> Outcome:
        """Test metrics of a trained model, and what run.json and model.json record about it."""
        counts, _ = evaluate(model, self.test_images, self.test_masks, cell.init.transform, self.num_classes,
                             self.device, settings.eval_batch_size, per_image=True)
        record = {"n_unlabeled": n_unlabeled, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
                  "val_mIoU": result.best.get("val_mIoU", float("nan")), "consistency": result.consistency_stats,
                  "history": result.history, "freeze_encoder": settings.freeze_encoder, "semi_supervised": semisup}
        return Outcome(metrics_from_counts(counts.sum(0).T, self.data.classes), model=model, record=record,
                       predictions={"counts": counts.numpy()})

    def predictions(self, outcome: Outcome) -> dict[str, np.ndarray]:
        return outcome.predictions

    def test_record(self) -> dict[str, np.ndarray]:
        return {}

    def interval_metrics(self) -> dict[str, Any]:
        """mIoU per test-image resample from the summed per-image counts (float64); the estimate through
        :func:`metrics_from_counts` itself (smp, float32), so that it is the reported number exactly."""
        classes = self.data.classes

        def miou_of(seeds: Sequence[dict[str, np.ndarray]], test: dict[str, np.ndarray]) -> Metric | None:
            if not all("counts" in s for s in seeds):
                return None
            counts = [s["counts"] for s in seeds]

            def reported(idx: np.ndarray) -> np.ndarray:
                return np.array([[metrics_from_counts(torch.as_tensor(c[rows].sum(0).T), classes)["mIoU"]
                                  for c in counts] for rows in idx])

            return exact_estimate(miou(counts), Metric(len(counts[0]), len(counts), reported))

        return {"mIoU": miou_of}

    def keep(self, cell: SegmentationCell, row_name: str, outcome: Outcome) -> None:
        r, init, metrics = outcome.record, cell.init, outcome.metrics
        n_labels = len(cell.train_idx) + len(cell.val_idx)
        self.cells.append({"init": init.name, "evaluator": row_name, "seed": cell.seed, "fraction": cell.fraction,
                           "n_labels": n_labels, "n_train": len(cell.train_idx), "n_val": len(cell.val_idx),
                           "n_unlabeled": r["n_unlabeled"], "best_epoch": r["best_epoch"],
                           "epochs_run": r["epochs_run"], "val_mIoU": r["val_mIoU"], "test_mIoU": metrics["mIoU"],
                           "consistency": r["consistency"], "history": r["history"]})
        folder = self._model_folder(f"{init.name}-semisup" if r["semi_supervised"] else init.name, cell)
        if folder is None:
            return
        data = self.data
        meta = {
            "arch": self.arch, "encoder": self.encoder, "in_chans": data.in_chans, "classes": data.classes,
            "tile_size": int(data.images.shape[-1]), **transform_to_dict(init.transform),
            "band_names": data.band_names, "init": init.name, "init_source": init.source,
            "init_architecture": init.architecture, "recipe": init.recipe,
            "freeze_encoder": r["freeze_encoder"], "semi_supervised": r["semi_supervised"],
            "fraction": cell.fraction, "seed": cell.seed,
            "n_labels": n_labels, "best_epoch": r["best_epoch"], "val_mIoU": r["val_mIoU"],
            "test": metrics, "data": data.root, **self.model_info,
        }
        self.model_dirs.append(save_segmentation_model(folder, outcome.model, meta))

    def _model_folder(self, name: str, cell: SegmentationCell) -> Path | None:
        save = self.settings.save_models
        fractions = sorted(float(f) for f in set(self.settings.fractions))
        seeds = [int(s) for s in dict.fromkeys(self.settings.seeds)]
        if save == "all":
            return self.out_dir / "models" / name / f"{cell.fraction * 100:g}pct-seed{cell.seed}"
        if save == "final" and cell.fraction == fractions[-1] and cell.seed == seeds[0]:
            return self.out_dir / "models" / name
        return None

    # ---- outputs ----------------------------------------------------------------------------------

    def finish(self, out_dir: Path, rows: list[ResultRow], elapsed: float) -> SegSweepResult:
        settings, data = self.settings, self.data
        frozen = settings.train.freeze_encoder
        test_desc = (f"{len(self.test_masks)} image/mask pairs ("
                     + (self._test_origin() if self.test_data is not None else "a fixed seeded hold-out, see splits.json")
                     + ")")
        context = [*self.context,
                   f"Model: smp {self.arch}, encoder {self.encoder}, "
                   f"{'frozen encoder' if frozen else 'fine-tuned end to end'}; "
                   f"{self.num_classes} classes ({', '.join(data.classes)}); test set: {test_desc}. "
                   "IoU/Dice over all test pixels; means over classes.",
                   "Inits: " + ", ".join(f"`{i.name}` ({i.architecture}, {i.source})" for i in self.inits) + "."]
        if settings.semisup is not None:
            mt = settings.semisup
            pool = (f"{len(self.unlabeled)} unlabelled images" if self.unlabeled is not None
                    else "the training images outside each labelled subset")
            context.append(f"`{evaluator_name(self.arch, frozen, True)}`: the same fine-tuning plus "
                           f"a mean teacher on {pool} (EMA {mt.ema}, threshold {mt.threshold}, mu {mt.mu}, weight "
                           f"{mt.weight}, ramp-up {mt.rampup:g} of the steps, strong view from recipe "
                           f"`{self.recipe.name}`); the teacher is evaluated.")
        metric_order = list(MAIN_METRICS) + [m for c in data.classes for m in (f"IoU[{c}]", f"Dice[{c}]")]
        results_csv = out_dir / "results.csv"
        report_md = out_dir / "report.md"
        atomic_write_text(report_md, render_report(rows, self.title, context, metrics=metric_order))
        plot = plot_label_efficiency(results_csv, out_dir / "label_efficiency.png", metrics=list(MAIN_METRICS),
                                     title=self.title)
        self._write_run_json(out_dir / "run.json", elapsed)
        return SegSweepResult(out_dir, results_csv, report_md, plot, rows, self.model_dirs)

    def _test_origin(self) -> str:
        split = self.model_info.get("split") or {}
        test = split.get("test_split") or {}
        if split.get("test") == "card split list":
            return f"the card's split list {test.get('path')}"
        return "its own folder"

    def _write_run_json(self, path: Path, elapsed: float) -> None:
        import segmentation_models_pytorch as smp
        import timm

        from ....version import __version__

        def describe(d: SegData) -> dict[str, Any]:
            return {"root": d.root, "items": len(d.names), "classes": d.classes, "sha256": d.digest(),
                    "image_size": list(d.images.shape[-2:]), "in_chans": d.in_chans}

        info = {
            "arch": self.arch, "encoder": self.encoder,
            "inits": [i.describe() for i in self.inits],
            "data": describe(self.data),
            "test": describe(self.test_data) if self.test_data is not None else {"source": "holdout"},
            "split": self.model_info.get("split"),  # where train pool and test set came from (segment.py)
            "settings": asdict(self.settings),
            "geometry": asdict(self.geometry),
            "cells": self.cells,
            "machine": describe_machine(),
            "versions": {"byol_transfer": __version__, "torch": torch.__version__, "timm": timm.__version__,
                         "segmentation_models_pytorch": smp.__version__, "python": platform.python_version()},
            "elapsed_s": round(elapsed, 1),
        }
        atomic_write_text(path, json.dumps(info, indent=2, default=str) + "\n")


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
    out_dir = Path(out_dir)
    evaluators = resolve(SEGMENTATION, settings.evaluators())
    task = SegmentationTask(data, arch, smp_encoder_name(encoder), out_dir, test_data, geometry or Geometry(), recipe,
                            unlabeled, settings, title, context, model_info or {})
    grid = Grid(settings.fractions, settings.seeds, settings.val_fraction, settings.test_fraction)
    return run_sweep(task, inits, out_dir, grid, evaluators, settings.progress)
