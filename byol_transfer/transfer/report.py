"""Tidy results (results.csv) and the Markdown report derived from them.

results.csv has one row per (init, evaluator, fraction, n_labels, seed, metric, value); nothing else
feeds the report or the plot, so any table can be regenerated, or recomputed by a reader with pandas,
from that file alone. Nothing here knows about classification: metric and evaluator names are data,
so the segmentation sweep writes the same file (with IoU/Dice metrics) and reuses this module.
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

RESULT_COLUMNS = ("init", "evaluator", "fraction", "n_labels", "seed", "metric", "value")


@dataclass(frozen=True)
class ResultRow:
    init: str
    evaluator: str
    fraction: float
    n_labels: int
    seed: int
    metric: str
    value: float  # NaN when undefined (e.g. AUROC with one class in the test set)


def write_results(rows: Iterable[ResultRow], path: str | Path) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for r in rows:
        writer.writerow([r.init, r.evaluator, repr(float(r.fraction)), int(r.n_labels), int(r.seed), r.metric,
                         "nan" if math.isnan(r.value) else repr(float(r.value))])
    atomic_write_text(path, buffer.getvalue())
    return Path(path)


def read_results(path: str | Path) -> list[ResultRow]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"results file not found: {path}")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != RESULT_COLUMNS:
            raise UserError(f"{path}: expected the columns {', '.join(RESULT_COLUMNS)}, "
                            f"got {', '.join(reader.fieldnames or [])}")
        try:
            return [ResultRow(r["init"], r["evaluator"], float(r["fraction"]), int(r["n_labels"]),
                              int(r["seed"]), r["metric"], float(r["value"])) for r in reader]
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


def _format_cell(cell: Cell | None, scale: float, digits: int) -> str:
    if cell is None or math.isnan(cell.mean):
        return "–"
    text = f"{cell.mean * scale:.{digits}f}"
    return text if math.isnan(cell.std) else f"{text} ± {cell.std * scale:.{digits}f}"


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

    ``metrics`` limits and orders the tables (default: every metric, in order of appearance).
    """
    if not rows:
        raise UserError("no results to report")
    cells = summarize(rows)
    metrics = list(metrics) if metrics else _ordered(r.metric for r in rows)
    inits = _ordered(r.init for r in rows)
    evaluators = _ordered(r.evaluator for r in rows)
    fractions = sorted({r.fraction for r in rows})
    seeds = sorted({r.seed for r in rows})
    unit = " %" if scale == 100 else ""
    lines = [f"# {title}", ""]
    lines += [*context, ""] if context else []
    lines += [
        f"Mean ± standard deviation over {len(seeds)} seed(s) of the labelled subsets"
        f"{', in' + unit if unit else ''}. **Bold**: the best init in the column. "
        "Columns: evaluator · fraction of the training labels (number of labels). "
        "Derived from `results.csv`; regenerate rather than edit.",
        "",
    ]
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
                text = _format_cell(cell, scale, digits)
                if cell is not None and (e, f) in best and math.isclose(cell.mean, best[(e, f)], abs_tol=1e-12):
                    text = f"**{text}**"
                row.append(text)
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def write_report(results_csv: str | Path, out_md: str | Path, title: str = "Label efficiency",
                 context: Sequence[str] = (), lower_is_better: Sequence[str] = ()) -> Path:
    """report.md from results.csv (and from nothing else)."""
    text = render_report(read_results(results_csv), title, context, lower_is_better)
    atomic_write_text(out_md, text)
    return Path(out_md)
