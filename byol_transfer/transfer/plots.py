"""label_efficiency.png from results.csv: score against labels, log x, one line per init × evaluator.

Colour = init, marker and line style = evaluator, error bars = standard deviation over seeds, one
panel per metric. Like report.py it knows nothing about classification, so segmentation sweeps reuse
it. It draws on a bare ``matplotlib.figure.Figure`` (no pyplot): no global state, no display needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import UserError
from ..io import atomic_path
from .report import ResultRow, format_fraction, is_statistic, read_results, seed_rows, summarize

MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", ":", "-.")


def plot_label_efficiency(
    results_csv: str | Path,
    out_png: str | Path,
    metrics: Sequence[str] | None = None,
    x: Literal["fraction", "n_labels"] = "fraction",
    title: str | None = None,
    scale: float = 100.0,
) -> Path:
    """Write the plot; ``metrics`` defaults to every metric in the file (one panel each)."""
    return plot_rows(read_results(results_csv), out_png, metrics, x, title, scale, where=str(results_csv))


def plot_rows(
    rows: Sequence[ResultRow],
    out_png: str | Path,
    metrics: Sequence[str] | None = None,
    x: Literal["fraction", "n_labels"] = "fraction",
    title: str | None = None,
    scale: float = 100.0,
    where: str = "results",
) -> Path:
    """The plot of ``rows`` (e.g. read from several results.csv); ``where`` names them in errors."""
    rows = seed_rows(rows)  # the statistics rows are not plotted (error bars: std over seeds)
    if not rows:
        raise UserError(f"{where}: no results to plot")
    cells = summarize(rows)
    present = list(dict.fromkeys(r.metric for r in rows if not is_statistic(r.metric)))
    metrics = list(metrics) if metrics else present
    unknown = [m for m in metrics if m not in present]
    if unknown:
        raise UserError(f"{where}: no metric {unknown[0]!r} (has: {', '.join(present)})")
    inits = list(dict.fromkeys(r.init for r in rows))
    evaluators = list(dict.fromkeys(r.evaluator for r in rows))
    fractions = sorted({r.fraction for r in rows})
    n_labels = {f: sorted({r.n_labels for r in rows if r.fraction == f}) for f in fractions}

    cols = min(len(metrics), 2)
    nrows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(6.0 * cols, 4.2 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    colours = [f"C{i % 10}" for i in range(len(inits))]
    for p, metric in enumerate(metrics):
        ax = fig.add_subplot(nrows, cols, p + 1)
        for ii, init in enumerate(inits):
            for ei, evaluator in enumerate(evaluators):
                points = [(f, cells[(metric, init, evaluator, f)]) for f in fractions
                          if (metric, init, evaluator, f) in cells]
                points = [(f, c) for f, c in points if not math.isnan(c.mean)]
                if not points:
                    continue
                xs = [f if x == "fraction" else sum(c.n_labels) / len(c.n_labels) for f, c in points]
                ax.errorbar(
                    xs, [c.mean * scale for _, c in points],
                    yerr=[0.0 if math.isnan(c.std) else c.std * scale for _, c in points],
                    color=colours[ii], marker=MARKERS[ei % len(MARKERS)],
                    linestyle=LINESTYLES[ei % len(LINESTYLES)], capsize=3, label=f"{init} · {evaluator}",
                )
        ax.set_xscale("log")
        if x == "fraction":
            ax.set_xticks(fractions)
            ax.set_xticklabels([f"{format_fraction(f)}\n({'/'.join(map(str, n_labels[f]))})" for f in fractions])
            ax.set_xlabel("fraction of training labels (number of labels)")
        else:
            ax.set_xlabel("number of labels")
        ax.minorticks_off()
        ax.set_ylabel(f"{metric}{' (%)' if scale == 100 else ''}")
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        if p == 0:
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    return Path(out_png)
