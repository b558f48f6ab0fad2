"""The pay-off targets of docs/results.md: each target against what its committed results.csv measured.

    python benchmarks/targets_table.py            # write docs/results/targets/table.md
    python benchmarks/targets_table.py --check    # compare only; exit 1 naming the first differing line

It also writes docs/results/targets/levers.md: what each measured lever gave (one arm minus another, in
the same cells), from the per-seed rows of the folders both arms are in.

A target is a margin of the pretrained init over the *best* baseline (random, kaiming, channel-stats:
whichever is best in that cell) in given cells (evaluator x label fraction) of one experiment folder
under docs/results/. The margin and its 95 % interval are the paired-difference rows the sweep already
wrote into that folder's results.csv (``METRIC.diff_vs_best_baseline`` / ``.diff_ci_low`` /
``.diff_ci_high``, transfer/statistics.py), so this script computes nothing new: it looks the numbers
up, compares them with the target, and says per cell whether the target is *met*, whether the first
milestone (an interval that excludes 0 above it) is reached, or by how much it is missed. A folder not
yet published reads "not measured". tests/benchmarks/test_targets_table.py runs ``--check``, so the
page cannot misquote the CSVs.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"
OUT = RESULTS / "targets" / "table.md"


@dataclass(frozen=True)
class Target:
    name: str                  # the data set, as the table names it
    folder: str                # docs/results/FOLDER/results.csv
    init: str                  # the pretrained init's name in that CSV
    recipe: str                # what was run, stated
    metric: str
    cells: tuple[tuple[str, float], ...]  # (evaluator, label fraction)
    points: float              # the target margin, in points (percent x 100 for fractions of 1)


TARGETS = (
    Target("EuroSAT RGB", "target_eurosat_rgb", "BYOL", "satellite_rgb as published, --time-budget 20m",
           "accuracy", (("knn@20", 0.01), ("knn@20", 0.1), ("linear", 0.01), ("linear", 0.1)), 10.0),
    Target("EuroSAT MS (216 tiles)", "target_eurosat_ms", "BYOL-from-RGB",
           "--init the EuroSAT RGB export (red/green/blue → B04/B03/B02), satellite_multispectral, 8m", "accuracy",
           (("knn@20", 0.1), ("knn@20", 1.0), ("linear", 0.1), ("linear", 1.0)), 5.0),
    Target("PneumoniaMNIST", "target_pneumoniamnist", "BYOL", "radiology_xray, 10m", "auroc",
           (("knn@20", 0.01), ("linear", 0.01)), 5.0),
    Target("water_seg, optical bands", "target_water_seg", "BYOL", "satellite_multispectral, --bands: the 7 optical bands (not run)",
           "mIoU", (("unet-finetune", 0.05),), 3.0),
    Target("Kvasir-SEG", "target_kvasir_seg", "BYOL", "natural_rgb, --init the EuroSAT RGB export, 8m", "mIoU",
           (("unet-finetune", 0.05),), 3.0),
)


@dataclass(frozen=True)
class Lever:
    set: str
    lever: str                 # what differs between the two arms, and nothing else
    arm: tuple[str, str]       # (folder, init) with the lever
    without: tuple[str, str]   # (folder, init) without it
    metric: str
    cells: tuple[tuple[str, float], ...]


RGB_CELLS = (("knn@20", 0.01), ("knn@20", 0.1), ("linear", 0.01), ("linear", 0.1))
MS_CELLS = (("knn@20", 0.1), ("knn@20", 1.0), ("linear", 0.1), ("linear", 1.0))
LEVERS = (
    Lever("EuroSAT RGB", "budget: 20 min instead of 3 (--time-budget plans both)",
          ("target_eurosat_rgb", "BYOL"), ("levers_eurosat_rgb", "recipe"), "accuracy", RGB_CELLS),
    Lever("EuroSAT RGB", "no colour invariances (no jitter, grayscale, solarize), 3 min",
          ("levers_eurosat_rgb", "no-colour"), ("levers_eurosat_rgb", "recipe"), "accuracy", RGB_CELLS),
    Lever("EuroSAT RGB", "mild colour (brightness/contrast 0.2 only), 3 min",
          ("levers_eurosat_rgb", "mild-colour"), ("levers_eurosat_rgb", "recipe"), "accuracy", RGB_CELLS),
    Lever("EuroSAT MS", "--init the EuroSAT RGB export instead of from scratch, 8 min each",
          ("target_eurosat_ms", "BYOL-from-RGB"), ("target_eurosat_ms", "BYOL-scratch"), "accuracy", MS_CELLS),
    Lever("EuroSAT MS", "8 min of BYOL on the 216 tiles after the mapped RGB export",
          ("target_eurosat_ms", "BYOL-from-RGB"), ("target_eurosat_ms", "RGB-export-mapped"), "accuracy", MS_CELLS),
    Lever("Kvasir-SEG", "--init the EuroSAT RGB export (8 min) vs the earlier 6-min run from scratch",
          ("target_kvasir_seg", "BYOL"), ("kvasir_seg", "BYOL"), "mIoU", (("unet-finetune", 0.05),)),
)


def read_per_seed(path: Path, init: str, metric: str) -> dict[tuple[str, float], dict[int, float]]:
    """``{(evaluator, fraction): {seed: value}}`` of ``init``'s per-seed rows in a results.csv."""
    found: dict[tuple[str, float], dict[int, float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["init"] == init and row["metric"] == metric and row["seed"].isdigit():
                found.setdefault((row["evaluator"], float(row["fraction"])), {})[int(row["seed"])] = float(row["value"])
    return found


def render_levers(results: Path = RESULTS, levers: tuple[Lever, ...] | None = None) -> str:
    """Arm minus the arm without the lever, per cell: the mean over the label seeds both have (the same
    label subsets and test images), and the range of the per-seed differences."""
    levers = LEVERS if levers is None else levers
    out = io.StringIO()
    out.write("| set | lever | metric | cell | with − without (mean over label seeds) | per-seed range | seeds |\n"
              "|---|---|---|---|---:|---:|---:|\n")
    for lv in levers:
        paths = [results / folder / "results.csv" for folder, _ in (lv.arm, lv.without)]
        rows = [read_per_seed(p, init, lv.metric) if p.is_file() else {}
                for p, (_, init) in zip(paths, (lv.arm, lv.without))]
        for evaluator, fraction in lv.cells:
            cell = f"{evaluator} · {100 * fraction:g} %"
            a, b = rows[0].get((evaluator, fraction), {}), rows[1].get((evaluator, fraction), {})
            seeds = sorted(set(a) & set(b))
            if not seeds:
                out.write(f"| {lv.set} | {lv.lever} | {lv.metric} | {cell} | – | – | not measured |\n")
                continue
            diffs = [100 * (a[s] - b[s]) for s in seeds]
            out.write(f"| {lv.set} | {lv.lever} | {lv.metric} | {cell} | {sum(diffs) / len(diffs):+.1f} "
                      f"| [{min(diffs):+.1f}, {max(diffs):+.1f}] | {len(seeds)} |\n")
    return out.getvalue()


def read_margins(path: Path, init: str, metric: str) -> dict[tuple[str, float], tuple[float, float, float]]:
    """``{(evaluator, fraction): (diff, ci_low, ci_high)}`` of ``init`` in a results.csv, as fractions."""
    wanted = {f"{metric}.diff_vs_best_baseline": 0, f"{metric}.diff_ci_low": 1, f"{metric}.diff_ci_high": 2}
    found: dict[tuple[str, float], list[float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["init"] == init and row["metric"] in wanted:
                key = (row["evaluator"], float(row["fraction"]))
                found.setdefault(key, [float("nan")] * 3)[wanted[row["metric"]]] = float(row["value"])
    return {k: (v[0], v[1], v[2]) for k, v in found.items()}


def verdict(diff: float, low: float, high: float, points: float) -> str:
    """Met / milestone only / missed by how much, in points."""
    d, lo = 100 * diff, 100 * low
    if d >= points and lo > 0:
        return "**met**"
    if lo > 0:
        return f"milestone (interval above 0); {points - d:.1f} short of +{points:g}"
    if 100 * high < 0:
        return f"missed by {points - d:.1f} (behind the best baseline)"
    if d >= points:
        return "not met: the margin is reached but its interval reaches 0"
    return f"missed by {points - d:.1f} (within noise)"


def render(results: Path = RESULTS, targets: tuple[Target, ...] | None = None) -> str:
    targets = TARGETS if targets is None else targets
    out = io.StringIO()
    out.write("| set | pretraining (stated) | metric | cell | target | BYOL − best baseline [95 % interval] "
              "| verdict |\n|---|---|---|---|---:|---:|---|\n")
    for t in targets:
        csv_path = results / t.folder / "results.csv"
        margins = read_margins(csv_path, t.init, t.metric) if csv_path.is_file() else {}
        for evaluator, fraction in t.cells:
            cell = f"{evaluator} · {100 * fraction:g} %"
            m = margins.get((evaluator, fraction))
            if m is None:
                measured, judged = "–", "not measured"
            else:
                measured = f"{100 * m[0]:+.1f} [{100 * m[1]:+.1f}, {100 * m[2]:+.1f}]"
                judged = verdict(*m, t.points)
            out.write(f"| {t.name} | {t.recipe} | {t.metric} | {cell} | +{t.points:g} | {measured} | {judged} |\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed tables; exit 1 on a difference")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the docs/results folder to read")
    parser.add_argument("--out", type=Path, default=None, help="table.md to write or check (default: RESULTS/targets/table.md)")
    args = parser.parse_args(argv)
    out = args.out or args.results / "targets" / "table.md"
    tables = {out: render(args.results), out.with_name("levers.md"): render_levers(args.results)}
    if args.check:
        for path, rendered in tables.items():
            committed = path.read_text() if path.is_file() else ""
            if committed != rendered:
                for i, (a, b) in enumerate(zip(committed.splitlines() + [""], rendered.splitlines() + [""]), 1):
                    if a != b:
                        print(f"{path}:{i}: committed {a!r} but the CSVs give {b!r}; run benchmarks/targets_table.py",
                              file=sys.stderr)
                        break
                return 1
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, rendered in tables.items():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(rendered)
        tmp.replace(path)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
