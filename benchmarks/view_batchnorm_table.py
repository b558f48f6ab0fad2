"""Joint vs separate BatchNorm over BYOL's two views: the table and plot behind docs/pretraining.md.

    python benchmarks/view_batchnorm_table.py --runs RUN_joint RUN_separate --out docs/results/view_batchnorm
    python benchmarks/view_batchnorm_table.py --check --out docs/results/view_batchnorm

The two pretraining runs (benchmarks/rerun_published.sh view_batchnorm) differ only in
``model.view_batchnorm``. From each run's metrics.csv this writes OUT/curves.csv (mode, step, loss,
knn_acc: the committed data), and renders OUT/table.md (the online k-NN monitor at every step it ran,
and the mean loss over the last quarter of the steps) and OUT/curves.png from it. ``--check`` re-renders
table.md from the committed curves.csv and exits 1 when it differs, so the docs cannot misquote it
(tests/benchmarks/test_results_tables.py runs it).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import yaml

COLUMNS = ("mode", "step", "loss", "knn_acc")


def read_run(run: Path) -> list[dict]:
    """The rows of one run's metrics.csv, tagged with the run's ``model.view_batchnorm``."""
    mode = yaml.safe_load((run / "config.yaml").read_text())["model"]["view_batchnorm"]
    with open(run / "metrics.csv", newline="") as f:
        return [{"mode": mode, "step": int(r["step"]), "loss": r["loss"], "knn_acc": r["knn_acc"]}
                for r in csv.DictReader(f)]


def read_curves(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{**r, "step": int(r["step"])} for r in csv.DictReader(f)]


def render_table(rows: list[dict]) -> str:
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    knn_steps = sorted({r["step"] for r in rows if r["knn_acc"] != ""})
    last = max(r["step"] for r in rows)
    tail_from = last - last // 4
    out = io.StringIO()
    out.write("| view_batchnorm | " + " | ".join(f"k-NN @ step {s}" for s in knn_steps)
              + f" | mean loss, steps {tail_from}–{last} |\n")
    out.write("|---|" + "---:|" * (len(knn_steps) + 1) + "\n")
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        knn = {r["step"]: float(r["knn_acc"]) for r in mine if r["knn_acc"] != ""}
        tail = [float(r["loss"]) for r in mine if r["step"] >= tail_from and r["loss"] != ""]
        cells = [f"{100 * knn[s]:.1f}" if s in knn else "–" for s in knn_steps]
        out.write(f"| {mode} | " + " | ".join(cells) + f" | {sum(tail) / len(tail):.3f} |\n")
    return out.getvalue()


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_knn) = plt.subplots(1, 2, figsize=(10, 4))
    for mode in dict.fromkeys(r["mode"] for r in rows):
        mine = [r for r in rows if r["mode"] == mode]
        ax_loss.plot([r["step"] for r in mine if r["loss"] != ""],
                     [float(r["loss"]) for r in mine if r["loss"] != ""], label=mode)
        knn = [(r["step"], 100 * float(r["knn_acc"])) for r in mine if r["knn_acc"] != ""]
        ax_knn.plot(*zip(*knn), marker="o", label=mode)
    ax_loss.set(xlabel="step", ylabel="BYOL loss", title="loss")
    ax_knn.set(xlabel="step", ylabel="k-NN accuracy (%)", title="online k-NN monitor")
    for ax in (ax_loss, ax_knn):
        ax.legend(title="view_batchnorm")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", type=Path, help="pretraining run folders (metrics.csv, config.yaml)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check", action="store_true", help="compare table.md with what curves.csv renders to")
    args = parser.parse_args(argv)
    curves = args.out / "curves.csv"
    if args.check:
        if not curves.is_file():
            print(f"{curves}: missing", file=sys.stderr)
            return 1
        expected = render_table(read_curves(curves))
        if (args.out / "table.md").read_text() != expected:
            print(f"{args.out / 'table.md'} differs from what {curves} renders to: run "
                  f"python benchmarks/view_batchnorm_table.py --out {args.out} --runs ...", file=sys.stderr)
            return 1
        return 0
    if not args.runs:
        parser.error("--runs is required unless --check")
    rows = [row for run in args.runs for row in read_run(run)]
    args.out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(curves, buffer.getvalue())
    rows = read_curves(curves)  # render from what was written, exactly as --check will
    write_atomic(args.out / "table.md", render_table(rows))
    plot(rows, args.out / "curves.png")
    print((args.out / "table.md").read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
