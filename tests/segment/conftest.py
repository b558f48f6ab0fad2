"""Tiny real-format segmentation data: GeoTIFF tiles (uint16, with a CRS) + PNG masks, and exports.

Each tile has one or two rectangles of "water" (class 1) that are dark in every band, so a model that
trains at all can find them. Tests reach the writers through fixtures (pytest's importlib mode does not
let test modules import this file): ``seg_folder``, ``export_file`` and ``seg_write``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

CRS = "EPSG:32633"


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here on one torch thread (the tiny 32 px models gain nothing from more)."""

ORIGIN = (500_000.0, 4_000_000.0)
PIXEL = 10.0


def water_pair(size: int, channels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(C×H×W uint16 image, H×W uint8 mask in {0, 1})."""
    mask = np.zeros((size, size), dtype=np.uint8)
    for _ in range(rng.integers(1, 3)):
        h, w = rng.integers(size // 4, size // 2, 2)
        top, left = rng.integers(0, size - h), rng.integers(0, size - w)
        mask[top:top + h, left:left + w] = 1
    image = rng.normal(3000, 300, (channels, size, size))
    image[:, mask == 1] = rng.normal(700, 150, (channels, int(mask.sum())))
    return np.clip(image, 0, 10_000).astype(np.uint16), mask


def write_geotiff(path: Path, array: np.ndarray, origin: tuple[float, float] = ORIGIN) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1],
                       count=array.shape[0], dtype=array.dtype.name, crs=CRS,
                       transform=from_origin(origin[0], origin[1], PIXEL, PIXEL)) as dst:
        dst.write(array)
    return path


def write_png(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def write_seg_folder(root: Path, n: int, channels: int = 4, size: int = 32, seed: int = 0,
                     mask_scale: int = 1) -> Path:
    """``root/images/<i>.tif`` + ``root/masks/<i>.png``; ``mask_scale=255`` stores masks as {0, 255}."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        image, mask = water_pair(size, channels, rng)
        write_geotiff(root / "images" / f"{i}.tif", image, (ORIGIN[0] + i * size * PIXEL, ORIGIN[1]))
        write_png(root / "masks" / f"{i}.png", (mask * mask_scale).astype(np.uint8))
    return root


@pytest.fixture
def seg_folder(tmp_path: Path):
    """Factory: ``seg_folder(n=12, channels=4, size=32, mask_scale=1)`` → a folder with images/ + masks/."""
    counter = iter(range(1000))

    def make(n: int = 12, channels: int = 4, size: int = 32, seed: int = 0, mask_scale: int = 1) -> Path:
        return write_seg_folder(tmp_path / f"seg_{next(counter)}", n, channels, size, seed, mask_scale)

    return make


def write_export(path: Path, architecture: str, in_chans: int, weights: dict | None = None,
                 seed: int = 1) -> tuple[Path, dict]:
    """A BYOL-export-format file: timm backbone weights (safetensors) + the JSON sidecar."""
    import torch
    from safetensors.torch import save_file

    from byol_transfer.models.backbones import create_backbone

    if weights is None:
        torch.manual_seed(seed)
        backbone = create_backbone(architecture, in_chans)
        with torch.no_grad():  # non-default BN statistics, so that loading them is visible
            for name, buffer in backbone.named_buffers():
                if name.endswith("running_mean"):
                    buffer.normal_()
                elif name.endswith("running_var"):
                    buffer.uniform_(0.5, 2.0)
        weights = {k: v.contiguous() for k, v in backbone.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(path))
    meta = {"format": "byol-transfer/backbone", "format_version": 1, "architecture": architecture,
            "in_chans": in_chans, "image_size": 32, "recipe": "satellite_multispectral",
            "scaling": {"kind": "divide", "value": 10000.0},
            "normalize": {"mean": [0.2] * in_chans, "std": [0.1] * in_chans}}
    path.with_name(path.name + ".json").write_text(json.dumps(meta))
    return path, weights


@pytest.fixture
def export_file(tmp_path: Path):
    """Factory: ``export_file(architecture, in_chans, weights=None, name=...)`` → (path, weights)."""

    def make(architecture: str, in_chans: int, weights: dict | None = None, name: str | None = None):
        return write_export(tmp_path / (name or f"{architecture}_{in_chans}.safetensors"), architecture,
                            in_chans, weights)

    return make


class _Writers:
    water_pair = staticmethod(water_pair)
    geotiff = staticmethod(write_geotiff)
    png = staticmethod(write_png)
    seg_folder = staticmethod(write_seg_folder)
    export = staticmethod(write_export)


@pytest.fixture(scope="session")
def seg_write() -> type[_Writers]:
    """The file writers: ``seg_write.geotiff(path, array)``, ``.png``, ``.seg_folder``, ``.export``."""
    return _Writers
