"""Data loading throughput: patches/s from GeoTIFF tiles and from scene windows, 0 and 2 workers.

    .venv/bin/python benchmarks/data_throughput.py [--tiles 512] [--size 64] [--bands 13] [--real]

Writes its own test data into a temporary folder (13-band uint16 GeoTIFFs like EuroSAT MS, and one
2048×2048 scene, 256-px internal tiles, deflate), then times full DataLoader epochs (batch 128) after a
warm-up epoch, for each source: a folder of tile files, windows of the scene, and the same tiles held
in memory (``cache=True``). ``--real`` adds EuroSAT MS and EuroSAT RGB from ../shared/data.

The comparison that matters is CPU time per patch against the BYOL step time per image: on 2 cores the
DataLoader workers compete with the model for the same cores, so a loader that needs 5% of a step's CPU
time costs about 5% of the training time, workers or not. "wait" below is the share of a resnet18 64 px
BYOL step (--step-img-s, measured 95-185 img/s on the 2-core development machine) that loading one
image costs when done serially (0 workers).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from byol_transfer.data.build import build_dataset  # noqa: E402


def write_tiles(root: Path, n: int, size: int, bands: int) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(n):
        array = rng.integers(1, 5000, (bands, size, size)).astype(np.uint16)
        with rasterio.open(root / f"tile_{i:05d}.tif", "w", driver="GTiff", width=size, height=size, count=bands,
                           dtype="uint16", crs="EPSG:32632",
                           transform=from_origin(500_000 + 640 * i, 4_000_000, 10, 10)) as dst:
            dst.write(array)
    return root


def write_scene(path: Path, side: int, bands: int) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(1)
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=bands, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(500_000, 4_000_000, 10, 10), tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate") as dst:
        for row in range(0, side, 256):
            block = rng.integers(1, 5000, (bands, 256, side)).astype(np.uint16)
            dst.write(block, window=rasterio.windows.Window(0, row, side, 256))
    return path


def patches_per_second(dataset, workers: int, batch: int = 128, epochs: int = 2) -> float:
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=False)
    for _ in loader:  # warm-up: worker start, first opens, page cache
        pass
    start, n = time.perf_counter(), 0
    for _ in range(epochs):
        for b in loader:
            n += b["image"].shape[0]
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=512)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--bands", type=int, default=13)
    parser.add_argument("--scene", type=int, default=2048, help="scene side in pixels")
    parser.add_argument("--step-img-s", type=float, nargs=2, default=[95.0, 185.0],
                        help="resnet18 64 px BYOL step rate range on this machine (img/s)")
    parser.add_argument("--real", action="store_true", help="also EuroSAT MS / RGB from ../shared/data")
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tiles = write_tiles(tmp / "tiles", args.tiles, args.size, args.bands)
        scene = write_scene(tmp / "scene.tif", args.scene, args.bands)
        sources = {
            f"GeoTIFF tiles ({args.tiles} files, {args.bands}x{args.size}x{args.size} uint16)":
                build_dataset(tiles, args.size, card=False),
            f"scene windows ({args.scene}px scene, {args.size}px windows)":
                build_dataset(scene, args.size, card=False, min_valid=0.0),
            "GeoTIFF tiles held in memory (cache=True)": build_dataset(tiles, args.size, card=False, cache=True),
        }
        shared = REPO.parent / "shared" / "data"
        if args.real and shared.is_dir():
            sources["EuroSAT MS train (216 real GeoTIFFs)"] = build_dataset(shared / "eurosat_ms", 64)
            rgb = build_dataset(shared / "eurosat_rgb", 64, split="test")
            sources["EuroSAT RGB test (5,400 real JPEGs)"] = rgb

        slow, fast = args.step_img_s
        print(f"machine: {os.cpu_count()} CPU(s), torch {torch.__version__}, batch 128")
        print(f"{'source':<58} {'workers':>7} {'patches/s':>10} {'wait vs step':>16}")
        for name, dataset in sources.items():
            for workers in (0, 2):
                rate = patches_per_second(dataset, workers)
                # serial cost of loading one image relative to one BYOL step image (at both step rates)
                waits = [(1 / rate) / (1 / rate + 1 / step) for step in (slow, fast)]
                print(f"{name:<58} {workers:>7} {rate:>10.0f} {100 * waits[0]:>6.1f}-{100 * waits[1]:.1f}%")


if __name__ == "__main__":
    main()
