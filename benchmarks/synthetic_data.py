"""Benchmark inputs written on the spot: 13-band uint16 tiles like EuroSAT MS, one tiled scene, shards.

Random values in Sentinel-2's reflectance range: decoding and I/O cost what real tiles cost (no
compression wins on noise, so the sizes are an upper bound for real data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


def write_tiles(root: Path, n: int, size: int, bands: int) -> Path:
    """``n`` separate GeoTIFF tiles (one file per patch, as EuroSAT MS ships them)."""
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
    """One square scene with 256-px internal tiles (deflate), as a COG-like Sentinel-2 product."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(1)
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=bands, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(500_000, 4_000_000, 10, 10), tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate") as dst:
        for row in range(0, side, 256):
            block = rng.integers(1, 5000, (bands, min(256, side - row), side)).astype(np.uint16)
            dst.write(block, window=rasterio.windows.Window(0, row, side, block.shape[1]))
    return path


class RandomTiles(Dataset):
    """``n`` random C×S×S uint16 samples in the data layer's sample format (what the shard writer packs)."""

    def __init__(self, n: int, size: int, bands: int, seed: int = 0) -> None:
        self.n, self.size, self.bands, self.seed = n, size, bands, seed
        self.band_names = [f"band_{b + 1}" for b in range(bands)]
        self.in_chans, self.dtype = bands, torch.uint16

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng((self.seed, index))
        image = rng.integers(1, 5000, (self.bands, self.size, self.size)).astype(np.uint16)
        return {"image": torch.from_numpy(image), "meta": {"path": f"random/{index}"}}


def write_random_shards(out: Path, n: int, size: int, bands: int, shards: int) -> Path:
    """``n`` random samples packed by byol-transfer's shard writer into about ``shards`` shards."""
    from byol_transfer.data.shards import write_shards

    sample_bytes = bands * size * size * 2 + 1024  # .npy header, .json metadata and tar headers
    write_shards(RandomTiles(n, size, bands), out, shard_size_bytes=max(1, n // shards) * sample_bytes - 1,
                 source="synthetic")
    return out
