"""Published result tables are generated, never typed: docs/results/NAME/report.md from its results.csv.

    python benchmarks/render_results.py            # (re)write report.md in every docs/results/NAME/ with a results.csv
    python benchmarks/render_results.py --check    # compare only; exit 1 naming the folder and first differing line
    python benchmarks/render_results.py --adopt docs/results/NAME   # keep a fresh run's title/context lines

Each published experiment folder holds results.csv (the tidy rows a sweep wrote), run.json (how it was
made: benchmarks/record_run.py) and report.md, which docs pages include (``--8<-- "results/NAME/report.md"``,
see mkdocs_hooks/snippets.py). The report is rendered by the same code as ``byol-transfer report``.
What the CSV cannot know (title, context lines such as the test-set size, which metrics, which are
lower-is-better) comes from an optional report.json in the folder, with the keys of :data:`SETTINGS`.
tests/benchmarks/test_results_tables.py runs the check, so an edited number in a report fails the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
SETTINGS = {"title": "Label efficiency", "context": [], "metrics": None, "lower_is_better": []}


def renderer() -> tuple[Callable, Callable]:
    """``(read_many, render_report)``; the one line to change when the report module moves."""
    from byol_transfer.transfer.report import read_many, render_report

    return read_many, render_report


def result_folders(root: Path = RESULTS) -> list[Path]:
    """Every folder under ``root`` (any depth) that holds a results.csv."""
    return sorted(p.parent for p in root.rglob("results.csv")) if root.is_dir() else []


def settings(folder: Path) -> dict:
    path = folder / "report.json"
    if not path.is_file():
        return dict(SETTINGS)
    given = json.loads(path.read_text())
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise SystemExit(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(SETTINGS)})")
    return {**SETTINGS, **given}


def render(folder: Path) -> str:
    """What report.md in ``folder`` must hold: results.csv rendered with the folder's settings."""
    read_many, render_report = renderer()
    s = settings(folder)
    return render_report(read_many([folder / "results.csv"]), s["title"], s["context"], s["lower_is_better"],
                         metrics=s["metrics"])


def first_difference(committed: str, rendered: str) -> tuple[int, str, str] | None:
    """(1-based line number, committed line, rendered line) of the first difference, or None."""
    a, b = committed.splitlines(), rendered.splitlines()
    for number, (x, y) in enumerate(zip(a, b), start=1):
        if x != y:
            return number, x, y
    if len(a) != len(b) or committed.endswith("\n") != rendered.endswith("\n"):
        number = min(len(a), len(b)) + 1
        return number, (a[number - 1] if number <= len(a) else "<end of file>"), \
            (b[number - 1] if number <= len(b) else "<end of file>")
    return None


def _shown(folder: Path) -> str:
    try:
        return str(folder.resolve().relative_to(REPO))
    except ValueError:
        return str(folder)


def check(root: Path = RESULTS) -> list[str]:
    """One message per folder whose report.md is missing or differs from what its results.csv renders to."""
    problems = []
    for folder in result_folders(root):
        report = folder / "report.md"
        if not report.is_file():
            problems.append(f"{_shown(folder)}: results.csv without report.md")
            continue
        diff = first_difference(report.read_text(), render(folder))
        if diff:
            number, committed, rendered = diff
            problems.append(f"{_shown(folder)}/report.md differs from what results.csv renders to, first at line "
                            f"{number}:\n  committed: {committed}\n  rendered:  {rendered}")
    return problems


def write(root: Path = RESULTS) -> list[Path]:
    from byol_transfer.io import atomic_write_text

    written = []
    for folder in result_folders(root):
        text = render(folder)
        report = folder / "report.md"
        if not report.is_file() or report.read_text() != text:
            atomic_write_text(report, text)
            written.append(report)
    return written


def adopt(folder: Path) -> Path:
    """Write ``folder``/report.json from the report.md the command itself wrote (its title and context
    lines: what the CSV cannot know), so that rendering from results.csv gives that report back."""
    from byol_transfer.io import atomic_write_text

    lines = (folder / "report.md").read_text().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise SystemExit(f"{folder / 'report.md'}: expected a '# title' first line")
    context = []
    for line in lines[1:]:
        if line.startswith(("Mean ", "## ")):
            break
        if line.strip():
            context.append(line)
    path = folder / "report.json"
    atomic_write_text(path, json.dumps({"title": lines[0][2:], "context": context}, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on the first stale report")
    parser.add_argument("--root", type=Path, default=RESULTS,
                        help="folder of experiment folders (default: docs/results)")
    parser.add_argument("--adopt", type=Path, nargs="+", metavar="FOLDER",
                        help="first write FOLDER/report.json from the title and context lines of the report.md "
                             "the command wrote")
    args = parser.parse_args(argv)
    for folder in args.adopt or ():
        print(f"wrote {_shown(adopt(folder))}")
    if args.check:
        problems = check(args.root)
        for p in problems:
            print(p)
        if problems:
            print("regenerate with: python benchmarks/render_results.py")
            return 1
        print(f"{len(result_folders(args.root))} report(s) up to date")
        return 0
    for path in write(args.root):
        print(f"wrote {_shown(path.parent)}/report.md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
