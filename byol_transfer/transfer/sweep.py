"""The one grid driver: inits × seeds × fractions × evaluators over a task → results.csv and the rest.

The protocol is the same for every task:

- a fixed test split: the task's own test data, or a seeded hold-out of the data (``splits.json``);
- per seed, nested labelled subsets of the rest (1% ⊂ 10% ⊂ 100%; stratified by class where the task
  has class labels), each with a validation part carved off for model selection; ``splits.json`` is
  saved first and reused by a rerun, after checking that the data match;
- per init, the task prepares what its evaluators share (classification: frozen features, cached);
  per cell, each evaluator fits on the labelled subset and the task scores it on the test split, one
  results.csv row per metric, rewritten after every evaluator so that partial results survive a crash;
- after each init the backbone's hash is compared with the one taken at load time: evaluation must
  leave the pretrained weights bit-identical;
- every outcome's per-image test predictions are kept (``task.predictions``); after the last cell the
  statistics rows (95 % intervals, paired differences from the best baseline: ``statistics.py``) are
  appended to results.csv and the predictions saved as predictions.npz (``predictions.py``), so a
  partial results.csv during a run holds the seed rows only;
- at the end the task writes its report, plot and run.json (and its own files: selected.csv, models/).

What a task provides is :class:`Task`; what an evaluator is, ``evaluators/base.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..features.cache import state_fingerprint
from .evaluators.base import Evaluator, Outcome
from .inits import Init
from .predictions import Predictions
from .report import ResultRow, kind_of_source, write_results
from .statistics import MetricBuilder, statistics_rows
from .splits import SplitPlan, plan_splits, save_splits


@dataclass
class Grid:
    """The labelled subsets a sweep runs on (stored in splits.json)."""

    fractions: Sequence[float]
    seeds: Sequence[int]
    val_fraction: float = 0.2
    test_fraction: float = 0.2  # the seeded hold-out, only when the task has no test data


class Task(Protocol):
    """What the sweep asks of a task (see ``tasks/classification.py`` and ``tasks/segmentation/``)."""

    progress_desc: str  # the progress bar's label and unit
    progress_unit: str

    def check(self, inits: Sequence[Init]) -> None:
        """Refuse inits that do not fit the data (channels, sizes) before anything is written."""

    def split_labels(self) -> np.ndarray:
        """Per item of the data, the stratum its subsets are drawn by (class labels, or all zeros)."""

    def digest(self) -> str:
        """The identity of the data (item names and labels) stored in splits.json."""

    def test_digest(self) -> str | None:
        """The identity of separate test data, or None for a hold-out of the data."""

    def bind(self, plan: SplitPlan) -> None:
        """Take the test split (the test data or the plan's hold-out)."""

    def prepare(self, init: Init) -> Any:
        """What every cell of this init shares (classification: its frozen features)."""

    def cell(self, init: Init, prepared: Any, seed: int, fraction: float, train_idx: np.ndarray,
             val_idx: np.ndarray) -> Any:
        """The context an evaluator gets for one cell."""

    def keep(self, cell: Any, row_name: str, outcome: Outcome) -> None:
        """Whatever the task records of an outcome beyond results.csv (selected values, models, cells)."""

    def predictions(self, outcome: Outcome) -> dict[str, np.ndarray]:
        """The outcome's per-image test predictions (the arrays ``predictions.py`` documents)."""

    def test_record(self) -> dict[str, np.ndarray]:
        """Per-image arrays of the test set itself (classification: its labels), after ``bind``."""

    def interval_metrics(self) -> dict[str, MetricBuilder]:
        """Reported metric name → its :class:`~.intervals.Metric` from a cell's per-seed predictions."""

    def finish(self, out_dir: Path, rows: list[ResultRow], elapsed: float) -> Any:
        """Write the report, the plot and run.json; return the task's result object."""


def run_sweep(task: Task, inits: Sequence[Init], out_dir: Path, grid: Grid,
              evaluators: Sequence[tuple[Evaluator, Any]], progress: bool = True) -> Any:
    """Run the grid (see the module docstring); returns what ``task.finish`` returns."""
    out_dir.mkdir(parents=True, exist_ok=True)
    task.check(inits)
    for evaluator, settings in evaluators:
        if evaluator.check is not None:
            evaluator.check(task, settings)
    seeds = [int(s) for s in dict.fromkeys(grid.seeds)]
    started = time.perf_counter()

    plan = plan_splits(task.split_labels(), task.digest(), grid.fractions, seeds, test_digest=task.test_digest(),
                       test_fraction=grid.test_fraction, val_fraction=grid.val_fraction,
                       stored=out_dir / "splits.json")
    save_splits(plan, out_dir / "splits.json")
    task.bind(plan)
    fractions = sorted(float(f) for f in set(grid.fractions))
    predictions = Predictions(task.test_record())

    rows: list[ResultRow] = []
    bar = tqdm(total=len(inits) * len(seeds) * len(fractions) * len(evaluators), disable=not progress,
               desc=task.progress_desc, unit=task.progress_unit, dynamic_ncols=True)
    for init in inits:
        kind = kind_of_source(init.source)
        bar.set_postfix_str(f"{init.name}: preparing")
        prepared = task.prepare(init)
        for seed in seeds:
            for fraction in fractions:
                train_idx, val_idx = plan.subset(seed, fraction)
                n_labels = len(train_idx) + len(val_idx)
                cell = task.cell(init, prepared, seed, fraction, train_idx, val_idx)
                for evaluator, settings in evaluators:
                    bar.set_postfix_str(f"{init.name} seed {seed} {fraction:g} {evaluator.name}")
                    for row_name, outcome in evaluator.run(cell, settings).items():
                        rows += [ResultRow(init.name, row_name, fraction, n_labels, seed, metric, value, kind)
                                 for metric, value in outcome.metrics.items()]
                        task.keep(cell, row_name, outcome)
                        predictions.add(init.name, row_name, fraction, seed, task.predictions(outcome))
                    write_results(rows, out_dir / "results.csv")  # partial results survive a crash
                    bar.update(1)
        check_unchanged(init)
    bar.close()
    rows += statistics_rows(rows, predictions, task.interval_metrics())
    write_results(rows, out_dir / "results.csv")
    predictions.save(out_dir / "predictions.npz")
    return task.finish(out_dir, rows, time.perf_counter() - started)


def check_unchanged(init: Init) -> None:
    """Evaluation must not touch the weights: BN statistics, fine-tuning copies and all."""
    after = state_fingerprint(init.backbone)
    if after != init.weights_hash:
        raise RuntimeError(f"init {init.name}: the backbone changed during evaluation "
                           f"(hash {init.weights_hash[:12]} → {after[:12]})")
