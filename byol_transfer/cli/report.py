"""byol-transfer report: report.md and label_efficiency.png from one or more results.csv.

The same rendering ``label-efficiency`` and ``segment`` run at the end of a sweep, from the tidy CSV
alone, so a table in the docs can be regenerated (and checked) instead of typed. Several files are
combined into one report, e.g. two sweeps with different inits on the same splits.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..transfer.plots import plot_rows
from ..errors import UserError
from ..transfer.report import is_statistic, read_many, render_report
from ..io import atomic_write_text
from ..config.flags import Flag, add_flags
from ..config.report import ReportConfig
from ..config.resolve import resolve, write_resolved


FLAGS = [
    Flag("results", "results", "results.csv files to combine", metavar="RESULTS.csv", required=True),
    Flag("--title", "title", "report title"),
    Flag("--metrics", "metrics", "metrics to show, in this order (default: all, as they appear)"),
    Flag("--lower-is-better", "lower_is_better", "metrics where the smallest value is the best (bold)",
         metavar="METRIC"),
    Flag("--no-plot", "plot", "write report.md only", sets_to=False),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="report.md + plot from results.csv files", description=__doc__)
    p.add_argument("--out", required=True, type=Path, help="folder for report.md and label_efficiency.png")
    add_flags(p, ReportConfig, FLAGS)


def run(args: argparse.Namespace) -> int:
    cfg = resolve(ReportConfig, args, FLAGS)
    results = [Path(r) for r in cfg.results]
    rows = read_many(results)  # all inputs are read and checked before anything is written
    present = list(dict.fromkeys(r.metric for r in rows if not is_statistic(r.metric)))
    unknown = [m for m in (cfg.metrics or []) + cfg.lower_is_better if m not in present]
    if unknown:
        raise UserError(f"no metric {unknown[0]!r} in {', '.join(map(str, results))} (has: {', '.join(present)})")
    sources = ", ".join(f"`{p}`" for p in results)
    text = render_report(rows, cfg.title, [f"Sources: {sources}."], cfg.lower_is_better, metrics=cfg.metrics)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "report.md", text)
    outputs = [args.out / "report.md"]
    write_resolved(cfg, args.out)
    if cfg.plot:
        outputs.append(plot_rows(rows, args.out / "label_efficiency.png", cfg.metrics, title=cfg.title,
                                 where=sources))
    print("wrote " + ", ".join(map(str, outputs)))
    return 0
