"""Classification as a sweep task: labelled images in, accuracy / balanced accuracy / macro-F1 / AUROC out.

- data: :class:`~byol_transfer.features.labelled.LabelledData` (training data, optional test data, an
  optional unlabelled pool for semi-supervised evaluators); raw images are loaded once, on first use;
- per init: frozen features of every image, extracted once and cached on disk (``OUT/features``);
- model: :class:`Classifier`, a copy of the backbone plus a linear head (seeded, so every init of a seed
  starts from the same head); loss: cross-entropy; BatchNorm momentum 0.1 (decay 0.9), the
  faster-adapting setting Kornblith et al. (2019) and SimCLR use for fine-tuning;
- train augmentation: the recipe's geometric invariances (``transfer/geometry.py``) on scaled images on
  the CPU, normalisation on the device; validation: accuracy (ties: lower loss) on the validation split;
- outputs besides results.csv: selected.csv (hyper-parameters chosen on validation), run.json, report.md
  and label_efficiency.png (both derived from results.csv only), predictions.npz (every cell's
  predicted labels and class scores per test image, what the intervals of accuracy and AUROC resample).

:func:`run_label_efficiency` is the library call behind ``byol-transfer label-efficiency`` and the demo.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ...augment.views import EvalTransform
from ...config import RecipeConfig
from ...errors import UserError
from ...features.cache import cached_features, dataset_fingerprint
from ...features.extract import load_images
from ...features.labelled import LabelledData
from ...io import atomic_write_text
from ...machine import describe_machine
from ..evaluators import CLASSIFICATION, Outcome, resolve
from ..evaluators.base import ClassificationCell
from ..evaluators.finetune import FinetuneSettings
from ..finetune import LoopResult, finetune
from ..geometry import Geometry, augment_chw, build_train_augment
from ..inits import Init
from ..intervals import Metric, accuracy as accuracy_metric, auroc as auroc_metric
from ..metrics import auroc, classification_metrics
from ..plots import plot_label_efficiency
from ..report import ResultRow, write_report
from ..splits import SplitPlan
from ..statistics import exact_estimate
from ..sweep import Grid, run_sweep

log = logging.getLogger(__name__)


class Classifier(nn.Module):
    def __init__(self, backbone: nn.Module, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


@dataclass
class SweepSettings:
    fractions: Sequence[float] = (0.01, 0.1, 1.0)
    seeds: Sequence[int] = (0, 1, 2)
    # names in run order, or {name: its settings (an instance, a mapping, or None for its defaults)}
    evaluators: Sequence[str] | Mapping[str, Any] = ("knn", "linear", "finetune")
    val_fraction: float = 0.2
    test_fraction: float = 0.2  # the seeded hold-out, only when there is no test set
    device: str = "cpu"
    feature_batch_size: int = 256
    cache_dir: Path | None = None  # default: out_dir / "features"
    progress: bool = True


@dataclass
class SweepResult:
    out_dir: Path
    results_csv: Path
    report_md: Path
    plot_png: Path
    rows: list[ResultRow]


class ClassificationHooks:
    """The fine-tuning loop's view of classification training (see ``transfer/finetune.py``)."""

    def __init__(self, transform: EvalTransform, train_images: torch.Tensor, train_labels: np.ndarray,
                 val_images: torch.Tensor, val_labels: np.ndarray, geometry: Geometry, settings: FinetuneSettings,
                 seed: int, device: torch.device) -> None:
        self.device = device
        self.transform = transform
        self.cpu_scaling = copy.deepcopy(transform.scaling).cpu()  # scaling happens before the CPU augmentation
        self.train_images, self.val_images = train_images, val_images
        self.y_train = torch.as_tensor(train_labels, dtype=torch.long)
        self.y_val = torch.as_tensor(val_labels, dtype=torch.long)
        self.augment = build_train_augment(train_images.shape[-1], geometry, seed, tuple(settings.crop_scale))
        self.eval_batch_size = settings.eval_batch_size

    def train_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scaled = self.cpu_scaling(self.train_images[idx])
        views = torch.stack([augment_chw(self.augment, image) for image in scaled]).to(self.device)
        return self.transform.normalize(views), self.y_train[idx].to(self.device)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output, target)

    def validate(self, model: nn.Module) -> tuple[tuple[float, ...], dict[str, float]]:
        logits = logits_of(model, self.val_images, self.transform, self.device, self.eval_batch_size)
        accuracy = (logits.argmax(1) == self.y_val).float().mean().item()
        return (-accuracy, F.cross_entropy(logits, self.y_val).item()), {}


def finetune_classifier(
    backbone: nn.Module,
    num_features: int,
    transform: EvalTransform,
    train_images: torch.Tensor,
    train_labels: np.ndarray,
    val_images: torch.Tensor,
    val_labels: np.ndarray,
    test_images: torch.Tensor,
    num_classes: int,
    geometry: Geometry,
    settings: FinetuneSettings,
    seed: int,
    device: torch.device | str = "cpu",
    consistency=None,  # noqa: ANN001  (Callable[[Classifier], Consistency] | None)
) -> tuple[np.ndarray, LoopResult]:
    """Fine-tune a :class:`Classifier` on raw N×C×H×W images; the test images' class probabilities.

    Stops on the validation images (none: all epochs). ``consistency`` builds a semi-supervised term for
    the classifier (see ``transfer/finetune.py``). ``backbone`` is never modified (a deep copy trains).
    """
    device = torch.device(device)
    transform = transform.to(device)
    with torch.random.fork_rng(devices=[]):  # the head's init is seeded without touching global RNG
        torch.manual_seed(seed)
        model = Classifier(copy.deepcopy(backbone), num_features, num_classes).to(device)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = 0.1
    hooks = ClassificationHooks(transform, train_images, train_labels, val_images, val_labels, geometry, settings,
                                seed, device)
    result = finetune(model, model.backbone, hooks, len(train_images), len(val_labels) > 0, settings.schedule(),
                      seed, consistency)
    proba = logits_of(model, test_images, transform, device, settings.eval_batch_size).softmax(1).numpy()
    return proba, result


@torch.no_grad()
def logits_of(model: nn.Module, images: torch.Tensor, transform: EvalTransform, device: torch.device,
              batch_size: int) -> torch.Tensor:
    model.eval()
    out = [model(transform(chunk.to(device))).float().cpu() for chunk in images.split(batch_size)]
    return torch.cat(out) if out else torch.empty(0)


@dataclass
class ClassificationTask:
    data: LabelledData
    test_data: LabelledData | None = None
    geometry: Geometry = field(default_factory=Geometry)
    recipe: RecipeConfig | None = None  # the semi-supervised views come from it
    unlabeled: Dataset | None = None  # the semi-supervised pool (default: the held-out --data images)
    device: str = "cpu"
    cache_dir: Path | None = None
    feature_batch_size: int = 256
    progress: bool = True
    title: str = "Label efficiency"
    context: Sequence[str] = ()  # lines for the report, before the test-set line
    settings_record: dict[str, Any] = field(default_factory=dict)  # run.json's "settings"
    progress_desc: str = "label-efficiency"
    progress_unit: str = "cell"

    def __post_init__(self) -> None:
        self.plan: SplitPlan | None = None
        self.test_labels: np.ndarray | None = None
        self._images: dict[str, torch.Tensor] = {}
        self.selected: list[tuple[str, str, float, int, str, float]] = []
        self.inits: list[Init] = []
        # id(metrics dict returned by score) → (that dict, its predictions): evaluators build an Outcome
        # around what score returns, so the dict identifies the outcome's predictions
        self._scored: dict[int, tuple[dict[str, float], dict[str, np.ndarray]]] = {}

    # ---- the sweep's hooks -------------------------------------------------------------------------

    def check(self, inits: Sequence[Init]) -> None:
        self.inits = list(inits)
        for init in inits:
            if getattr(init.backbone, "in_chans", self.data.in_chans) != self.data.in_chans:
                raise UserError(f"init {init.name}: built for {init.backbone.in_chans} channels, "
                                f"the data have {self.data.in_chans}")
        if self.test_data is not None and self.test_data.in_chans != self.data.in_chans:
            raise UserError(f"the test data have {self.test_data.in_chans} channel(s), the training data "
                            f"{self.data.in_chans}")

    def split_labels(self) -> np.ndarray:
        return self.data.labels

    def digest(self) -> str:
        return self.data.digest()

    def test_digest(self) -> str | None:
        return None if self.test_data is None else self.test_data.digest()

    def bind(self, plan: SplitPlan) -> None:
        self.plan = plan
        self.test_labels = self.test_data.labels if self.test_data is not None else self.data.labels[plan.test]

    def prepare(self, init: Init) -> tuple[torch.Tensor, torch.Tensor]:
        features = self._features(init, self.data.dataset)
        test_features = (self._features(init, self.test_data.dataset) if self.test_data is not None
                         else features[torch.as_tensor(self.plan.test)])
        return features, test_features

    def cell(self, init: Init, prepared: tuple[torch.Tensor, torch.Tensor], seed: int, fraction: float,
             train_idx: np.ndarray, val_idx: np.ndarray) -> ClassificationCell:
        self._scored.clear()  # anything scored but not kept belongs to the previous cell
        return ClassificationCell(self, init, prepared[0], prepared[1], seed, fraction, train_idx, val_idx)

    def keep(self, cell: ClassificationCell, row_name: str, outcome: Outcome) -> None:
        self.selected += [(cell.init.name, row_name, cell.fraction, cell.seed, k, float(v))
                          for k, v in outcome.selected.items()]

    def predictions(self, outcome: Outcome) -> dict[str, np.ndarray]:
        if outcome.predictions:
            return outcome.predictions
        _, arrays = self._scored.pop(id(outcome.metrics), (None, {}))
        return arrays

    def test_record(self) -> dict[str, np.ndarray]:
        return {"labels": self.test_labels}

    def interval_metrics(self) -> dict[str, Any]:
        """Accuracy and AUROC per test-image resample; AUROC's estimate through :func:`metrics.auroc`
        itself, so that it is the reported number (the draws: vectorised, see ``exact_estimate``)."""
        num_classes = len(self.data.classes)

        def accuracy_of(seeds: Sequence[dict[str, np.ndarray]], test: dict[str, np.ndarray]) -> Metric | None:
            if not all("predicted" in s for s in seeds):
                return None
            return accuracy_metric(test["labels"], [s["predicted"] for s in seeds])

        def auroc_of(seeds: Sequence[dict[str, np.ndarray]], test: dict[str, np.ndarray]) -> Metric | None:
            if not all("scores" in s for s in seeds):
                return None
            scores = [s["scores"] for s in seeds]
            return exact_estimate(auroc_metric(test["labels"], scores),
                                  auroc_metric(test["labels"], scores,
                                               metric=lambda y, s: auroc(y, s, num_classes)))

        return {"accuracy": accuracy_of, "auroc": auroc_of}

    # ---- what evaluators use ----------------------------------------------------------------------

    def images(self) -> torch.Tensor:
        """The raw --data images (N × C × H × W), loaded on first use."""
        if "data" not in self._images:
            self._images["data"] = load_images(self.data.dataset)
        return self._images["data"]

    def test_images(self) -> torch.Tensor:
        if "test" not in self._images:
            self._images["test"] = (load_images(self.test_data.dataset) if self.test_data is not None
                                    else self.images()[torch.as_tensor(self.plan.test)])
        return self._images["test"]

    def unlabeled_images(self, subset: np.ndarray) -> torch.Tensor:
        """The pool for a labelled subset: the unlabelled data, else the --data images outside the
        subset and the test split (the training images whose labels are held out)."""
        if self.unlabeled is not None:
            if "unlabeled" not in self._images:
                self._images["unlabeled"] = load_images(self.unlabeled)
            return self._images["unlabeled"]
        held_out = np.ones(len(self.data.labels), dtype=bool)
        held_out[subset] = False
        if self.test_data is None:
            held_out[self.plan.test] = False
        return self.images()[torch.as_tensor(np.flatnonzero(held_out))]

    def score(self, labels: np.ndarray, scores: np.ndarray | None) -> dict[str, float]:
        """Test metrics of predicted classes and N_test × C probabilities (None: no AUROC).

        The test labels are used here only; evaluators never see them. The predictions are kept for the
        outcome built around the returned dict (see :meth:`predictions`)."""
        result = classification_metrics(self.test_labels, labels, scores, len(self.data.classes))
        arrays = {"predicted": np.asarray(labels)}
        if scores is not None:
            arrays["scores"] = np.asarray(scores)
        self._scored[id(result)] = (result, arrays)
        return result

    def fit(self, cell: ClassificationCell, settings: FinetuneSettings,
            consistency=None) -> tuple[np.ndarray, LoopResult]:  # noqa: ANN001
        """:func:`finetune_classifier` on the cell's subset; the test images' class probabilities."""
        images, labels = self.images(), self.data.labels
        train, val = torch.as_tensor(cell.train_idx), torch.as_tensor(cell.val_idx)
        return finetune_classifier(cell.init.backbone, cell.init.num_features, cell.init.transform, images[train],
                                   labels[cell.train_idx], images[val], labels[cell.val_idx], self.test_images(),
                                   cell.num_classes, self.geometry, settings, cell.seed, self.device, consistency)

    # ---- outputs ----------------------------------------------------------------------------------

    def finish(self, out_dir: Path, rows: list[ResultRow], elapsed: float) -> SweepResult:
        write_selected(self.selected, out_dir / "selected.csv")
        self._write_run_json(out_dir / "run.json", elapsed)
        results_csv = out_dir / "results.csv"
        test_source = "its own split" if self.test_data is not None else "a fixed stratified hold-out, see splits.json"
        described = ", ".join(f"`{i.name}` ({i.architecture}, {i.source})" for i in self.inits)
        context = [*self.context, f"Test set: {len(self.test_labels)} images ({test_source}); "
                   f"{len(self.data.classes)} classes; inits: {described}."]
        report = write_report(results_csv, out_dir / "report.md", self.title, context)
        plot = plot_label_efficiency(results_csv, out_dir / "label_efficiency.png", title=self.title)
        return SweepResult(out_dir, results_csv, report, plot, rows)

    def _write_run_json(self, path: Path, elapsed: float) -> None:
        import sklearn
        import timm

        from ...version import __version__

        def describe(d: LabelledData) -> dict[str, Any]:
            return {"root": str(getattr(d.dataset, "root", "")), "items": len(d.labels), "classes": d.classes,
                    "sha256": d.digest(), "image_size": getattr(d.dataset, "image_size", None),
                    "features_key": dataset_fingerprint(d.dataset)}

        plan = self.plan
        info = {
            "inits": [i.describe() for i in self.inits],
            "data": describe(self.data),
            "test": (describe(self.test_data) if self.test_data is not None
                     else {"source": "holdout", "items": 0 if plan.test is None else len(plan.test)}),
            "settings": self.settings_record,
            "finetune_geometry": asdict(self.geometry),
            "machine": describe_machine(),
            "versions": {"byol_transfer": __version__, "torch": torch.__version__, "timm": timm.__version__,
                         "scikit-learn": sklearn.__version__, "python": platform.python_version()},
            "elapsed_s": round(elapsed, 1),
        }
        atomic_write_text(path, json.dumps(info, indent=2, default=str) + "\n")

    def _features(self, init: Init, dataset: Dataset) -> torch.Tensor:
        return cached_features(init.backbone, dataset, init.transform, self.cache_dir, self.device,
                               self.feature_batch_size, progress=self.progress, weights_hash=init.weights_hash)


def write_selected(selected: list, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["init", "evaluator", "fraction", "seed", "name", "value"])
    writer.writerows(selected)
    atomic_write_text(path, buffer.getvalue())


def run_label_efficiency(
    inits: Sequence[Init],
    data: LabelledData,
    out_dir: str | Path,
    test_data: LabelledData | None = None,
    settings: SweepSettings | None = None,
    geometry: Geometry | None = None,
    title: str = "Label efficiency",
    context: Sequence[str] = (),
    recipe: RecipeConfig | None = None,
    unlabeled: Dataset | None = None,
) -> SweepResult:
    """The label-efficiency sweep of ``inits`` on ``data`` (see ``transfer/sweep.py`` for the protocol).

    ``recipe`` and ``unlabeled`` matter to semi-supervised evaluators only: the recipe their views come
    from, and the unlabelled images (default: the --data images outside each labelled subset and the test
    split, i.e. the training images whose labels are held out). Outputs in ``out_dir``: results.csv,
    report.md, label_efficiency.png, splits.json, selected.csv, run.json and features/ (the cache).
    """
    settings = settings or SweepSettings()
    out_dir = Path(out_dir)
    evaluators = resolve(CLASSIFICATION, settings.evaluators)  # unknown names fail here, before any work
    record = {**asdict(settings), "cache_dir": str(settings.cache_dir) if settings.cache_dir else None,
              "evaluators": {e.name: asdict(s) for e, s in evaluators}}
    task = ClassificationTask(data, test_data, geometry or Geometry(), recipe, unlabeled, settings.device,
                              settings.cache_dir or out_dir / "features", settings.feature_batch_size,
                              settings.progress, title, context, record)
    grid = Grid(settings.fractions, settings.seeds, settings.val_fraction, settings.test_fraction)
    return run_sweep(task, inits, out_dir, grid, evaluators, settings.progress)
