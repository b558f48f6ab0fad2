"""The label-efficiency sweep: inits × seeds × fractions × evaluators → results.csv, report.md, plot.

For each init, frozen features of every image are extracted once (cached on disk); each grid cell
then takes its labelled subset from ``splits.json`` (stratified, nested across fractions, saved),
fits an evaluator on it, and scores the fixed test split. The test labels are used for scoring only.
After the frozen-feature evaluators the backbone's hash is compared with the one taken at load time:
evaluation must leave the weights bit-identical.

Outputs in ``out_dir``: results.csv (tidy), report.md and label_efficiency.png (both derived from
results.csv only), splits.json, selected.csv (hyper-parameters chosen on validation splits), run.json
(what was compared, on which data, with which versions) and features/ (the cache).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..config import RecipeConfig
from ..data.threads import single_threaded
from ..errors import UserError
from ..io import atomic_write_text
from ..machine import describe_machine
from ..semisup.fixmatch import FixMatchSettings
from .evaluators import EVALUATORS, Cell, Prediction
from .features import cached_features, dataset_fingerprint, state_fingerprint
from .finetune import FinetuneSettings
from .inits import Init
from .metrics import classification_metrics
from .plots import plot_label_efficiency
from .report import ResultRow, write_report, write_results
from .splits import SplitPlan, labels_digest, plan_splits, save_splits
from .train_transforms import Geometry

log = logging.getLogger(__name__)


@dataclass
class LabelledData:
    """A labelled dataset as the sweep sees it: samples with ``"image"``, and labels on the side."""

    dataset: Dataset
    labels: np.ndarray
    classes: list[str]
    names: list[str]  # stable item names (relative paths) for the split file's data digest
    in_chans: int

    @classmethod
    def from_dataset(cls, dataset: Dataset, classes: Sequence[str] | None = None, where: str = "data") -> "LabelledData":
        """From a dataset with ``labels``, ``classes`` and ``in_chans`` (e.g. a labelled ImageFolderDataset).

        With ``classes`` (the training set's), labels are re-indexed by class *name*, so a test folder
        with classes in another order, or missing one, still lines up.
        """
        own_classes = list(getattr(dataset, "classes", []) or [])
        labels = np.asarray(getattr(dataset, "labels", []), dtype=np.int64)
        if not own_classes or len(labels) != len(dataset):  # type: ignore[arg-type]
            raise UserError(f"{where}: needs class labels (one subfolder per class)")
        if classes is not None:
            unknown = [c for c in own_classes if c not in classes]
            if unknown:
                raise UserError(f"{where}: class {unknown[0]!r} does not occur in the training data "
                                f"(classes: {', '.join(classes)})")
            remap = np.array([list(classes).index(c) for c in own_classes])
            labels, own_classes = remap[labels], list(classes)
        if len(own_classes) < 2:
            raise UserError(f"{where}: at least two classes are needed, found {own_classes}")
        files, root = getattr(dataset, "files", None), getattr(dataset, "root", None)
        if files is not None and root is not None:
            names = [Path(p).relative_to(root).as_posix() for p in files]
        else:
            names = [str(i) for i in range(len(labels))]
        return cls(dataset, labels, own_classes, names, int(getattr(dataset, "in_chans")))

    def digest(self) -> str:
        return labels_digest(self.names, self.labels)


@dataclass
class SweepSettings:
    fractions: Sequence[float] = (0.01, 0.1, 1.0)
    seeds: Sequence[int] = (0, 1, 2)
    evaluators: Sequence[str] = ("knn", "linear", "finetune")
    knn_ks: Sequence[int] = (20,)
    knn_temperature: float = 0.07
    val_fraction: float = 0.2
    test_fraction: float = 0.2  # the seeded hold-out, only when there is no test set
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    semisup: FixMatchSettings = field(default_factory=FixMatchSettings)  # the semisup evaluator's FixMatch
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


def load_images(dataset: Dataset, batch_size: int = 256) -> torch.Tensor:
    """All raw images of a dataset stacked (N × C × H × W, native dtype): fine-tuning reuses them."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    with single_threaded():  # per-sample decoding: intra-op threads only wait on a busy machine
        return torch.cat([batch["image"] for batch in loader])


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
    """``recipe`` and ``unlabeled`` matter to the ``semisup`` evaluator only: the recipe its views come
    from, and the unlabelled images (default: the --data images outside each labelled subset and the test
    split, i.e. the training images whose labels are held out)."""
    settings = settings or SweepSettings()
    geometry = geometry or Geometry()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluators = list(dict.fromkeys(settings.evaluators))
    seeds = [int(s) for s in dict.fromkeys(settings.seeds)]
    for name in evaluators:
        EVALUATORS.get(name)  # unknown names fail here, before any work
    for init in inits:
        if getattr(init.backbone, "in_chans", data.in_chans) != data.in_chans:
            raise UserError(f"init {init.name}: built for {init.backbone.in_chans} channels, "
                            f"the data have {data.in_chans}")
    if test_data is not None and test_data.in_chans != data.in_chans:
        raise UserError(f"the test data have {test_data.in_chans} channel(s), the training data {data.in_chans}")
    started = time.perf_counter()

    plan = plan_splits(
        data.labels, data.digest(), settings.fractions, seeds,
        test_digest=None if test_data is None else test_data.digest(),
        test_fraction=settings.test_fraction, val_fraction=settings.val_fraction,
        stored=out_dir / "splits.json",
    )
    save_splits(plan, out_dir / "splits.json")
    test_labels = test_data.labels if test_data is not None else data.labels[plan.test]
    num_classes = len(data.classes)
    fractions = sorted(float(f) for f in set(settings.fractions))
    cache_dir = settings.cache_dir or out_dir / "features"

    images_cache: dict[str, torch.Tensor] = {}

    def images() -> torch.Tensor:
        if "data" not in images_cache:
            images_cache["data"] = load_images(data.dataset)
        return images_cache["data"]

    def test_images() -> torch.Tensor:
        if "test" not in images_cache:
            images_cache["test"] = (load_images(test_data.dataset) if test_data is not None
                                    else images()[torch.as_tensor(plan.test)])
        return images_cache["test"]

    def unlabeled_images(subset: np.ndarray) -> torch.Tensor:
        if unlabeled is not None:
            if "unlabeled" not in images_cache:
                images_cache["unlabeled"] = load_images(unlabeled)
            return images_cache["unlabeled"]
        held_out = np.ones(len(data.labels), dtype=bool)
        held_out[subset] = False
        if test_data is None:
            held_out[plan.test] = False
        return images()[torch.as_tensor(np.flatnonzero(held_out))]

    if "semisup" in evaluators:
        settings.semisup.check()
        if unlabeled is not None and getattr(unlabeled, "in_chans", data.in_chans) != data.in_chans:
            raise UserError(f"the unlabelled data have {unlabeled.in_chans} channel(s), the training data "
                            f"{data.in_chans}")

    rows: list[ResultRow] = []
    selected: list[tuple[str, str, float, int, str, float]] = []
    grid = len(inits) * len(seeds) * len(fractions) * len(evaluators)
    bar = tqdm(total=grid, disable=not settings.progress, desc="label-efficiency", unit="cell", dynamic_ncols=True)
    for init in inits:
        bar.set_postfix_str(f"{init.name}: features")
        features = _features(init, data.dataset, cache_dir, settings)
        test_features = (_features(init, test_data.dataset, cache_dir, settings) if test_data is not None
                         else features[torch.as_tensor(plan.test)])
        for seed in seeds:
            for fraction in fractions:
                train_idx, val_idx = plan.subset(seed, fraction)
                n_labels = len(train_idx) + len(val_idx)
                cell = Cell(init, seed, num_classes, train_idx, val_idx, data.labels, features,
                            test_features, images, test_images, tuple(settings.knn_ks),
                            settings.knn_temperature, settings.finetune, geometry, settings.device,
                            recipe, unlabeled_images, settings.semisup)
                for evaluator in evaluators:
                    bar.set_postfix_str(f"{init.name} seed {seed} {fraction:g} {evaluator}")
                    for row_name, prediction in EVALUATORS.get(evaluator)(cell).items():
                        rows += _rows(init.name, row_name, fraction, n_labels, seed, prediction,
                                      test_labels, num_classes)
                        selected += [(init.name, row_name, fraction, seed, k, float(v))
                                     for k, v in prediction.selected.items()]
                    write_results(rows, out_dir / "results.csv")  # partial results survive a crash
                    bar.update(1)
        _check_unchanged(init)
    bar.close()

    _write_selected(selected, out_dir / "selected.csv")
    _write_run_json(out_dir / "run.json", inits, data, test_data, plan, settings, geometry,
                    time.perf_counter() - started)
    results_csv = out_dir / "results.csv"
    test_source = "its own split" if test_data is not None else "a fixed stratified hold-out, see splits.json"
    described = ", ".join(f"`{i.name}` ({i.architecture}, {i.source})" for i in inits)
    context = [*context, f"Test set: {len(test_labels)} images ({test_source}); {num_classes} classes; "
               f"inits: {described}."]
    report = write_report(results_csv, out_dir / "report.md", title, context)
    plot = plot_label_efficiency(results_csv, out_dir / "label_efficiency.png", title=title)
    return SweepResult(out_dir, results_csv, report, plot, rows)


def _features(init: Init, dataset: Dataset, cache_dir: Path, settings: SweepSettings) -> torch.Tensor:
    return cached_features(init.backbone, dataset, init.transform, cache_dir, settings.device,
                           settings.feature_batch_size, progress=settings.progress,
                           weights_hash=init.weights_hash)


def _rows(init: str, evaluator: str, fraction: float, n_labels: int, seed: int, prediction: Prediction,
          test_labels: np.ndarray, num_classes: int) -> list[ResultRow]:
    values = classification_metrics(test_labels, prediction.labels, prediction.scores, num_classes)
    return [ResultRow(init, evaluator, fraction, n_labels, seed, metric, value) for metric, value in values.items()]


def _check_unchanged(init: Init) -> None:
    """Evaluation must not touch the weights: BN statistics, fine-tuning copies and all."""
    after = state_fingerprint(init.backbone)
    if after != init.weights_hash:
        raise RuntimeError(f"init {init.name}: the backbone changed during evaluation "
                           f"(hash {init.weights_hash[:12]} → {after[:12]})")


def _write_selected(selected: list, path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["init", "evaluator", "fraction", "seed", "name", "value"])
    writer.writerows(selected)
    atomic_write_text(path, buffer.getvalue())


def _write_run_json(path: Path, inits: Sequence[Init], data: LabelledData, test_data: LabelledData | None,
                    plan: SplitPlan, settings: SweepSettings, geometry: Geometry, elapsed: float) -> None:
    import sklearn
    import timm

    from .. import __version__

    def describe(d: LabelledData) -> dict[str, Any]:
        return {"root": str(getattr(d.dataset, "root", "")), "items": len(d.labels), "classes": d.classes,
                "sha256": d.digest(), "image_size": getattr(d.dataset, "image_size", None),
                "features_key": dataset_fingerprint(d.dataset)}

    info = {
        "inits": [{"name": i.name, "source": i.source, "architecture": i.architecture, "recipe": i.recipe,
                   "weights_sha256": i.weights_hash, "pretrained_image_size": i.image_size} for i in inits],
        "data": describe(data),
        "test": describe(test_data) if test_data is not None else {"source": "holdout", "items": 0 if plan.test is None else len(plan.test)},
        "settings": {**asdict(settings), "cache_dir": str(settings.cache_dir) if settings.cache_dir else None},
        "finetune_geometry": asdict(geometry),
        "machine": describe_machine(),
        "versions": {"byol_transfer": __version__, "torch": torch.__version__, "timm": timm.__version__,
                     "scikit-learn": sklearn.__version__, "python": platform.python_version()},
        "elapsed_s": round(elapsed, 1),
    }
    atomic_write_text(path, json.dumps(info, indent=2, default=str) + "\n")

