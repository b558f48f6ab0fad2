"""Same commands, same outputs: run a fixed set of small jobs and compare them with a reference run.

A restructuring of the code must not change what users get. This script runs, through the command
line only (so it works on any internal layout), on data it generates deterministically:

1. classification: BYOL pretraining of ``byol_tiny_cnn`` on 3-class RGB PNG folders (a few steps),
   export, then ``label-efficiency`` with knn, linear, finetune and semisup over 2 fractions × 2 seeds;
2. segmentation: pretraining (resnet10t: smp needs feature_info) on 4-band uint16 GeoTIFF tiles, export, then ``segment`` with a
   mean teacher over 2 fractions × 2 seeds;
3. optionally (``--demo``) ``make demo``'s job, whose printed table is compared line by line.

Every results.csv, splits.json, selected.csv and the pretraining metrics.csv (without its wall-time
column) must be byte-identical to the reference. Usage::

    python benchmarks/behaviour_check.py --out /tmp/before            # on the old commit
    python benchmarks/behaviour_check.py --out /tmp/after --compare /tmp/before

Exit code 0 when everything matches, 1 with the first differing lines otherwise.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COMPARED = ["cls/pretrain/metrics.csv", "cls/sweep/results.csv", "cls/sweep/splits.json",
            "cls/sweep/selected.csv", "seg/pretrain/metrics.csv", "seg/sweep/results.csv",
            "seg/sweep/splits.json"]
DEMO_COMPARED = ["demo/table.txt", "demo/label_efficiency/results.csv"]
TIME_COLUMNS = {"wall_s", "time_s", "elapsed_s", "img_per_s", "images_per_s", "seconds", "step_s"}


def write_classification(root: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    # close colours under heavy noise: no evaluator reaches 100 %, so a changed trajectory shows in the metrics
    colours = np.array([[140, 110, 110], [110, 140, 110], [110, 110, 140]])
    for split, n in (("train", 20), ("test", 8)):
        for c, colour in enumerate(colours):
            folder = root / split / f"class_{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                image = rng.normal(colour, 90, (32, 32, 3))
                top, left = rng.integers(0, 16, 2)
                image[top:top + 12, left:left + 12] += 50 * (c - 1)
                Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f"{i:03d}.png")


def write_segmentation(root: Path) -> None:
    import rasterio
    from PIL import Image
    from rasterio.transform import from_origin

    rng = np.random.default_rng(1)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(24):
        mask = np.zeros((32, 32), dtype=np.uint8)
        h, w = rng.integers(8, 16, 2)
        top, left = rng.integers(0, 32 - h), rng.integers(0, 32 - w)
        mask[top:top + h, left:left + w] = 1
        image = rng.normal(3000, 300, (4, 32, 32))
        image[:, mask == 1] = rng.normal(700, 150, (4, int(mask.sum())))
        with rasterio.open(root / "images" / f"{i:03d}.tif", "w", driver="GTiff", width=32, height=32, count=4,
                           dtype="uint16", crs="EPSG:32633",
                           transform=from_origin(500_000.0 + 320 * i, 4_000_000.0, 10.0, 10.0)) as dst:
            dst.write(np.clip(image, 0, 10_000).astype(np.uint16))
        Image.fromarray(mask).save(root / "masks" / f"{i:03d}.png")


# One intra-op thread in every job: float reductions may round differently with another thread count, so
# the count is part of "the same run"; one thread also keeps parallel checks from oversubscribing the cores.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def cli(*args: str, log: Path) -> None:
    command = [sys.executable, "-m", "byol_transfer", *args]
    with log.open("a") as f:
        f.write("$ " + " ".join(command) + "\n")
        f.flush()
        done = subprocess.run(command, stdout=f, stderr=subprocess.STDOUT, env=ENV)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}): {' '.join(args)}; see {log}")


def strip_time_columns(path: Path) -> None:
    """Wall-time columns differ from run to run by nature; everything else must not."""
    with path.open() as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    keep = [i for i, name in enumerate(rows[0]) if name not in TIME_COLUMNS]
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([[r[i] for i in keep if i < len(r)] for r in rows])


def run_jobs(out: Path, demo: bool) -> None:
    log = out / "commands.log"
    common = ["--device", "cpu"]
    # fp32 pinned, not the default `auto`: auto picks bf16 on CPUs with AMX / AVX-512-BF16, and a reference
    # made on one machine must compare with a run on another (the key exists on older commits too)
    fp32 = ["--set", "train.precision=fp32"]
    write_classification(out / "data" / "cls")
    cli("pretrain", "--config", "natural_rgb", "--data", str(out / "data/cls/train"), "--out", str(out / "cls/pretrain"),
        "--backbone", "byol_tiny_cnn", "--image-size", "32", "--batch-size", "16", "--max-steps", "6",
        "--seed", "0", "--set", "data.num_workers=0", "--set", "train.log_every=1", *fp32, *common, log=log)
    cli("export", str(out / "cls/pretrain"), "--out", str(out / "cls/byol.safetensors"), log=log)
    cli("label-efficiency", "--data", str(out / "data/cls"), "--backbone", f"byol={out / 'cls/byol.safetensors'}",
        "random", "--fractions", "0.25", "1.0", "--seeds", "2", "--evaluators", "knn,linear,finetune,semisup",
        "--epochs", "2", "--batch-size", "16", "--knn-k", "5", "10", "--no-progress", "--out", str(out / "cls/sweep"),
        *common, log=log)

    write_segmentation(out / "data" / "seg")
    cli("pretrain", "--config", "satellite_multispectral", "--data", str(out / "data/seg/images"),
        "--out", str(out / "seg/pretrain"), "--backbone", "resnet10t", "--image-size", "32", "--batch-size", "8",
        "--max-steps", "4", "--seed", "0", "--set", "data.num_workers=0", "--set", "train.log_every=1",
        "--set", "recipe.channels.count=4", *fp32, *common, log=log)
    cli("export", str(out / "seg/pretrain"), "--out", str(out / "seg/byol.safetensors"), log=log)
    cli("segment", "--data", str(out / "data/seg"), "--backbone", f"byol={out / 'seg/byol.safetensors'}", "random",
        "--fractions", "0.5", "1.0", "--seeds", "2", "--epochs", "2", "--batch-size", "4", "--min-epoch-samples", "8",
        "--semi-supervised", "--num-classes", "2", "--no-progress", "--out", str(out / "seg/sweep"), *common, log=log)
    for name in ("cls/pretrain/metrics.csv", "seg/pretrain/metrics.csv"):
        strip_time_columns(out / name)

    if demo:
        done = subprocess.run([sys.executable, "-m", "byol_transfer.demo", "--out", str(out / "demo")],
                              capture_output=True, text=True, env=ENV)
        if done.returncode:
            sys.exit(f"demo failed ({done.returncode}):\n{done.stderr[-2000:]}")
        lines = done.stdout.splitlines()  # the accuracy table: from its title line to the report line
        start = next(i for i, line in enumerate(lines) if "test accuracy (%)" in line)
        end = next(i for i, line in enumerate(lines) if line.strip().startswith("report:"))
        (out / "demo" / "table.txt").write_text("\n".join(lines[start:end]) + "\n")


def compare(out: Path, reference: Path, names: list[str]) -> int:
    failures = 0
    for name in names:
        mine, theirs = out / name, reference / name
        if not theirs.is_file():
            print(f"SKIP  {name}: not in the reference")
            continue
        if not mine.is_file():
            print(f"FAIL  {name}: missing")
            failures += 1
            continue
        a, b = theirs.read_text().splitlines(), mine.read_text().splitlines()
        if a == b:
            print(f"same  {name} ({len(a)} lines)")
            continue
        failures += 1
        print(f"FAIL  {name}:")
        for line in list(difflib.unified_diff(a, b, "reference", "now", lineterm="", n=0))[:12]:
            print("      " + line)
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="an empty folder for this run")
    parser.add_argument("--compare", type=Path, help="a folder written by an earlier run of this script")
    parser.add_argument("--demo", action="store_true", help="also run the demo (about 5 minutes on 2 cores)")
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out} is not empty")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    run_jobs(args.out, args.demo)
    print(f"jobs done in {time.perf_counter() - started:.0f} s; outputs in {args.out}")
    if args.compare is None:
        return 0
    failures = compare(args.out, args.compare, COMPARED + (DEMO_COMPARED if args.demo else []))
    print("identical" if not failures else f"{failures} file(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
