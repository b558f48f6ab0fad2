"""Tidy results (results.csv) and the Markdown report derived from them.

results.csv has one row per (init, evaluator, fraction, n_labels, seed, metric, value, init_kind);
nothing else feeds the report or the plot, so any table can be regenerated, or recomputed by a reader
with pandas, from that file alone. Nothing here knows about classification: metric and evaluator names
are data, so the segmentation sweep writes the same file (with IoU/Dice metrics) and reuses this module.

``init_kind`` is ``baseline`` (an init whose source is one of ``inits.BASELINE_SOURCES``) or
``pretrained``; a file from before the column existed is read with the inits *named* like a baseline
source taken as baselines. Besides one row per seed, the sweep adds statistics rows at the end
(``transfer/statistics.py``), seed ``all``: ``METRIC.ci_low`` / ``METRIC.ci_high`` per cell (95 %
bootstrap interval), and for pretrained inits ``METRIC.diff_vs_best_baseline`` / ``.diff_ci_low`` /
``.diff_ci_high`` (paired difference against the best baseline of the same evaluator and fraction).
The report shows them inside the tables of their metric, never as tables of their own.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import UserError
from ..io import atomic_write_text
from .inits import BASELINE_SOURCES

RESULT_COLUMNS = ("init", "evaluator", "fraction", "n_labels", "seed", "metric", "value", "init_kind")
LEGACY_COLUMNS = RESULT_COLUMNS[:-1]  # results.csv before init_kind
ALL_SEEDS = "all"  # the seed of a statistics row: it summarises every seed of its cell
BASELINE, PRETRAINED = "baseline", "pretrained"
# METRIC.<suffix>: the statistics rows (see the module docstring)
CI_LOW, CI_HIGH = "ci_low", "ci_high"
DIFF, DIFF_LOW, DIFF_HIGH = "diff_vs_best_baseline", "diff_ci_low", "diff_ci_high"
STATISTICS = (CI_LOW, CI_HIGH, DIFF, DIFF_LOW, DIFF_HIGH)


def kind_of_source(source: str) -> str:
    """``baseline`` for an init built without pretrained weights (random, kaiming, channel-stats)."""
    return BASELINE if source in BASELINE_SOURCES else PRETRAINED


def split_statistic(metric: str) -> tuple[str, str | None]:
    """``accuracy.ci_low`` → (``accuracy``, ``ci_low``); a plain metric → (metric, None)."""
    base, dot, suffix = metric.rpartition(".")
    return (base, suffix) if dot and base and suffix in STATISTICS else (metric, None)


def is_statistic(metric: str) -> bool:
    return split_statistic(metric)[1] is not None


@dataclass(frozen=True)
class ResultRow:
    init: str
    evaluator: str
    fraction: float
    n_labels: int
    seed: int | str  # a label seed, or ALL_SEEDS for a statistics row
    metric: str
    value: float  # NaN when undefined (e.g. AUROC with one class in the test set)
    init_kind: str = ""  # BASELINE or PRETRAINED; not given: taken from the init's name (kind_of_source)

    def __post_init__(self) -> None:
        if not self.init_kind:
            object.__setattr__(self, "init_kind", kind_of_source(self.init))


def seed_rows(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """The measurements: one row per seed, without the statistics rows."""
    return [r for r in rows if r.seed != ALL_SEEDS]


def write_results(rows: Iterable[ResultRow], path: str | Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for r in rows:
        seed = ALL_SEEDS if r.seed == ALL_SEEDS else int(r.seed)
        writer.writerow([r.init, r.evaluator, repr(float(r.fraction)), int(r.n_labels), seed, r.metric,
                         "nan" if math.isnan(r.value) else repr(float(r.value)), r.init_kind])
    atomic_write_text(path, buffer.getvalue())
    return Path(path)


def _seed(text: str) -> int | str:
    return ALL_SEEDS if text == ALL_SEEDS else int(text)


def _kind(text: str) -> str:
    if text not in (BASELINE, PRETRAINED):
        raise ValueError(f"init_kind must be {BASELINE!r} or {PRETRAINED!r}, got {text!r}")
    return text


def read_results(path: str | Path) -> list[ResultRow]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"results file not found: {path}")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        columns = tuple(reader.fieldnames or ())
        if columns not in (RESULT_COLUMNS, LEGACY_COLUMNS):
            raise UserError(f"{path}: expected the columns {', '.join(RESULT_COLUMNS)}, "
                            f"got {', '.join(reader.fieldnames or [])}")
        legacy = columns == LEGACY_COLUMNS
        try:
            return [ResultRow(r["init"], r["evaluator"], float(r["fraction"]), int(r["n_labels"]),
                              _seed(r["seed"]), r["metric"], float(r["value"]),
                              kind_of_source(r["init"]) if legacy else _kind(r["init_kind"]))
                    for r in reader]
        except (TypeError, ValueError) as e:
            raise UserError(f"{path} line {reader.line_num}: {e}") from None


def read_many(paths: Sequence[str | Path]) -> list[ResultRow]:
    """The rows of several results.csv files; a result that two files both hold is an error naming them."""
    rows: list[ResultRow] = []
    seen: dict[tuple, Path] = {}
    resolved = [Path(p).resolve() for p in paths]
    twice = next((p for i, p in enumerate(paths) if resolved[i] in resolved[:i]), None)
    if twice is not None:
        raise UserError(f"{twice} is given twice")
    for path in map(Path, paths):
        for r in read_results(path):
            key = (r.init, r.evaluator, r.fraction, r.seed, r.metric)
            if key in seen:
                raise UserError(f"{path} and {seen[key]} both hold init {r.init!r}, evaluator {r.evaluator!r}, "
                                f"fraction {r.fraction:g}, seed {r.seed}, metric {r.metric!r}: rename one init "
                                "or report them separately")
            seen[key] = path
            rows.append(r)
    return rows


def _ordered(values: Iterable) -> list:
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class Cell:
    mean: float
    std: float  # sample standard deviation over seeds (ddof=1); NaN with a single seed
    n: int
    n_labels: tuple[int, ...]


def summarize(rows: Sequence[ResultRow]) -> dict[tuple[str, str, str, float], Cell]:
    """(metric, init, evaluator, fraction) → mean/std over seeds; NaN values (undefined) are left out."""
    groups: dict[tuple[str, str, str, float], list[ResultRow]] = {}
    for r in rows:
        groups.setdefault((r.metric, r.init, r.evaluator, r.fraction), []).append(r)
    cells = {}
    for key, members in groups.items():
        values = np.array([m.value for m in members if not math.isnan(m.value)])
        mean = float(values.mean()) if len(values) else math.nan
        std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        cells[key] = Cell(mean, std, len(values), tuple(sorted({m.n_labels for m in members})))
    return cells


def format_fraction(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _labels_text(n_labels: Sequence[int]) -> str:
    return str(n_labels[0]) if len(n_labels) == 1 else f"{n_labels[0]}–{n_labels[-1]}"


def _format_cell(cell: Cell | None, scale: float, digits: int, interval: tuple[float, float] | None = None) -> str:
    if cell is None or math.isnan(cell.mean):
        return "–"
    text = f"{cell.mean * scale:.{digits}f}"
    text = text if math.isnan(cell.std) else f"{text} ± {cell.std * scale:.{digits}f}"
    if interval is not None and not any(math.isnan(v) for v in interval):
        text += f" [{interval[0] * scale:.{digits}f}, {interval[1] * scale:.{digits}f}]"
    return text


def _format_margin(diff: tuple[float, float, float] | None, means: tuple[float, float], scale: float,
                   digits: int) -> str:
    """``+x.x [lo, hi]``, ``+x.x (within noise)`` when the interval holds 0, or the difference of the
    means alone when the file has no statistics rows (``(no interval)``)."""
    if diff is None:
        d = means[0] - means[1]
        return "–" if math.isnan(d) else f"{d * scale:+.{digits}f} (no interval)"
    d, low, high = diff
    if math.isnan(d):
        return "–"
    if math.isnan(low) or math.isnan(high) or low <= 0.0 <= high:  # Difference.within_noise
        return f"{d * scale:+.{digits}f} (within noise)"
    return f"{d * scale:+.{digits}f} [{low * scale:+.{digits}f}, {high * scale:+.{digits}f}]"


def render_report(
    rows: Sequence[ResultRow],
    title: str = "Label efficiency",
    context: Sequence[str] = (),
    lower_is_better: Sequence[str] = (),
    scale: float = 100.0,
    digits: int = 1,
    metrics: Sequence[str] | None = None,
) -> str:
    """One table per metric: a row per init, a column per (evaluator, fraction), best per column bold.

    A cell is "mean ± std [ci_low, ci_high]" where the file has the interval rows. With both baseline
    and pretrained inits, each table ends with a "best baseline" row (the baseline init with the best
    mean in that column, named) and, per pretrained init, its margin over it: the paired difference with
    its 95 % interval, or "(within noise)" when that interval contains 0.
    ``metrics`` limits and orders the tables (default: every metric, in order of appearance).
    """
    if not rows:
        raise UserError("no results to report")
    stats = {(r.metric, r.init, r.evaluator, r.fraction): r.value for r in rows if r.seed == ALL_SEEDS}
    rows = seed_rows(rows)
    if not rows:
        raise UserError("no results to report (only statistics rows)")
    cells = summarize(rows)
    metrics = list(metrics) if metrics else _ordered(r.metric for r in rows if not is_statistic(r.metric))
    inits = _ordered(r.init for r in rows)
    kinds = {r.init: r.init_kind for r in rows}
    baselines = [i for i in inits if kinds[i] == BASELINE]
    pretrained = [i for i in inits if kinds[i] != BASELINE]
    evaluators = _ordered(r.evaluator for r in rows)
    fractions = sorted({r.fraction for r in rows})
    seeds = sorted({r.seed for r in rows})
    unit = " %" if scale == 100 else ""
    lines = [f"# {title}", ""]
    lines += [*context, ""] if context else []
    has_intervals = any(split_statistic(m)[1] == CI_LOW for m, *_ in stats)
    lines += [
        f"Mean ± standard deviation over {len(seeds)} seed(s) of the labelled subsets"
        f"{', in' + unit if unit else ''}"
        + (", [95 % bootstrap interval over test images]" if has_intervals else "")
        + ". **Bold**: the best init in the column. "
        "Columns: evaluator · fraction of the training labels (number of labels). "
        "Derived from `results.csv`; regenerate rather than edit.",
        "",
    ]
    if baselines and pretrained:
        lines += ["*best baseline*: the best of the baseline inits (" + ", ".join(f"`{b}`" for b in baselines)
                  + ") in the column; *X − best baseline*: X's paired difference from it on the same label "
                  "subsets and test images, [95 % interval], or *within noise* when the interval contains 0 "
                  "(see docs/label-efficiency.md, Statistics).", ""]

    def interval(metric: str, i: str, e: str, f: float) -> tuple[float, float] | None:
        low, high = stats.get((f"{metric}.{CI_LOW}", i, e, f)), stats.get((f"{metric}.{CI_HIGH}", i, e, f))
        return None if low is None or high is None else (low, high)

    for metric in metrics:
        better = min if metric in lower_is_better else max
        columns = [(e, f) for e in evaluators for f in fractions
                   if any((metric, i, e, f) in cells for i in inits)]
        header = ["init"]
        for e, f in columns:
            n = sorted({c for i in inits if (metric, i, e, f) in cells for c in cells[(metric, i, e, f)].n_labels})
            header.append(f"{e} · {format_fraction(f)} ({_labels_text(n)})")
        best: dict[tuple[str, float], float] = {}
        for e, f in columns:
            means = [cells[(metric, i, e, f)].mean for i in inits if (metric, i, e, f) in cells]
            means = [m for m in means if not math.isnan(m)]
            if len(means) > 1:
                best[(e, f)] = better(means)
        lines += [f"## {metric}{' (lower is better)' if metric in lower_is_better else ''}", "",
                  "| " + " | ".join(header) + " |",
                  "|---" + "|---:" * len(columns) + "|"]
        for i in inits:
            row = [i]
            for e, f in columns:
                cell = cells.get((metric, i, e, f))
                text = _format_cell(cell, scale, digits, interval(metric, i, e, f))
                if cell is not None and (e, f) in best and math.isclose(cell.mean, best[(e, f)], abs_tol=1e-12):
                    text = f"**{text}**"
                row.append(text)
            lines.append("| " + " | ".join(row) + " |")
        if baselines and pretrained:
            lines += _baseline_rows(metric, columns, cells, stats, baselines, pretrained, better, scale, digits,
                                    interval)
        lines.append("")
    return "\n".join(lines)


def best_baseline(metric: str, evaluator: str, fraction: float, cells: dict, baselines: Sequence[str],
                  better=max) -> str | None:  # noqa: ANN001
    """The baseline init with the best mean in a column (ties: the first in run order); None if none has one."""
    scored = [(cells[(metric, b, evaluator, fraction)].mean, b) for b in baselines
              if (metric, b, evaluator, fraction) in cells and not math.isnan(cells[(metric, b, evaluator, fraction)].mean)]
    if not scored:
        return None
    top = better(m for m, _ in scored)
    return next(b for m, b in scored if m == top)


def _baseline_rows(metric, columns, cells, stats, baselines, pretrained, better, scale, digits,  # noqa: ANN001
                   interval) -> list[str]:
    """The "best baseline" row and one margin row per pretrained init."""
    chosen = {(e, f): best_baseline(metric, e, f, cells, baselines, better) for e, f in columns}
    row = ["*best baseline*"]
    for e, f in columns:
        b = chosen[(e, f)]
        row.append("–" if b is None else
                   f"{_format_cell(cells[(metric, b, e, f)], scale, digits, interval(metric, b, e, f))} (`{b}`)")
    lines = ["| " + " | ".join(row) + " |"]
    for i in pretrained:
        row = [f"*{i} − best baseline*"]
        for e, f in columns:
            b = chosen[(e, f)]
            if b is None or (metric, i, e, f) not in cells:
                row.append("–")
                continue
            diff = tuple(stats.get((f"{metric}.{suffix}", i, e, f)) for suffix in (DIFF, DIFF_LOW, DIFF_HIGH))
            means = (cells[(metric, i, e, f)].mean, cells[(metric, b, e, f)].mean)
            if None in diff or not math.isclose(diff[0], means[0] - means[1], abs_tol=1e-9):
                diff = None  # none stored, or against another baseline (several files combined)
            row.append(_format_margin(diff, means, scale, digits))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def write_report(results_csv: str | Path, out_md: str | Path, title: str = "Label efficiency",
                 context: Sequence[str] = (), lower_is_better: Sequence[str] = ()) -> Path:
    """report.md from results.csv (and from nothing else)."""
    text = render_report(read_results(results_csv), title, context, lower_is_better)
    atomic_write_text(out_md, text)
    return Path(out_md)
