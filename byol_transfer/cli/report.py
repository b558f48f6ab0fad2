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
from ..transfer.report import read_many, render_report
from ..io import atomic_write_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="report.md + plot from results.csv files", description=__doc__)
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS.csv", help="results.csv files to combine")
    p.add_argument("--out", required=True, type=Path, help="folder for report.md and label_efficiency.png")
    p.add_argument("--title", default="Label efficiency", help="report title")
    p.add_argument("--metrics", nargs="+", help="metrics to show, in this order (default: all, as they appear)")
    p.add_argument("--lower-is-better", nargs="+", default=[], metavar="METRIC",
                   help="metrics where the smallest value is the best (bold)")
    p.add_argument("--no-plot", action="store_true", help="write report.md only")


def run(args: argparse.Namespace) -> int:
    rows = read_many(args.results)  # all inputs are read and checked before anything is written
    present = list(dict.fromkeys(r.metric for r in rows))
    unknown = [m for m in (args.metrics or []) + args.lower_is_better if m not in present]
    if unknown:
        raise UserError(f"no metric {unknown[0]!r} in {', '.join(map(str, args.results))} (has: {', '.join(present)})")
    sources = ", ".join(f"`{p}`" for p in args.results)
    text = render_report(rows, args.title, [f"Sources: {sources}."], args.lower_is_better, metrics=args.metrics)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "report.md", text)
    outputs = [args.out / "report.md"]
    if not args.no_plot:
        outputs.append(plot_rows(rows, args.out / "label_efficiency.png", args.metrics, title=args.title,
                                 where=sources))
    print("wrote " + ", ".join(map(str, outputs)))
    return 0
