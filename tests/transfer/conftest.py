"""Fixtures for the transfer tests.

Classification: tiny *learnable* labelled image folders (each class has its own pattern: horizontal
stripes, vertical stripes, checkerboard, … under noise, so an encoder that trains at all can tell the
classes apart) as genuine PNG (1 or 3 channels) or GeoTIFF (uint16, any band count) files, and a real
BYOL export (``labelled_folder``, ``tiny_export``).

Segmentation: GeoTIFF tiles (uint16, with a CRS) + PNG masks with one or two rectangles of "water"
(class 1) that are dark in every band, and exports (``seg_folder``, ``export_file``, ``seg_write``; pytest's
importlib mode does not let test modules import this file).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def pattern(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size × size float pattern in [0, 1] for class ``kind``, randomly phased, with noise."""
    y, x = np.mgrid[:size, :size]
    phase = rng.integers(0, 4)
    base = [
        ((y + phase) // 2) % 2,  # horizontal stripes
        ((x + phase) // 2) % 2,  # vertical stripes
        (((x + phase) // 2 + (y // 2)) % 2),  # checkerboard
        np.full((size, size), 0.5),  # flat grey
    ][kind % 4].astype(np.float64)
    return np.clip(0.8 * base + 0.1 + rng.normal(0, 0.08, (size, size)), 0, 1)


def write_labelled_folder(root: Path, n_per_class: int | list[int], channels: int = 1, size: int = 16,
                          num_classes: int = 2, seed: int = 0) -> Path:
    """``root/class_<k>/<i>.(png|tif)``: PNG for 1/3 channels, GeoTIFF uint16 otherwise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    counts = n_per_class if isinstance(n_per_class, list) else [n_per_class] * num_classes
    for k, count in enumerate(counts):
        folder = root / f"class_{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image = np.stack([pattern(k, size, rng) for _ in range(channels)])  # C×H×W in [0, 1]
            if channels in (1, 3):
                array = (image * 255).round().astype(np.uint8)
                Image.fromarray(array[0] if channels == 1 else array.transpose(1, 2, 0)).save(folder / f"{i:03d}.png")
            else:
                import rasterio
                from rasterio.transform import from_origin

                with rasterio.open(folder / f"{i:03d}.tif", "w", driver="GTiff", width=size, height=size,
                                   count=channels, dtype="uint16", crs="EPSG:32633",
                                   transform=from_origin(500_000, 4_000_000, 10, 10)) as dst:
                    dst.write((image * 10_000).round().astype(np.uint16))
    return root


@pytest.fixture
def labelled_folder(tmp_path: Path):
    """Factory: ``labelled_folder(n_per_class, channels=1, size=16, num_classes=2, seed=0)`` → folder."""
    counter = iter(range(1000))

    def make(n_per_class, channels: int = 1, size: int = 16, num_classes: int = 2, seed: int = 0) -> Path:
        return write_labelled_folder(tmp_path / f"labelled_{next(counter)}", n_per_class, channels, size,
                                     num_classes, seed)

    return make


def pretrain_and_export(root: Path, channels: int, recipe: str, band_names: list[str] | None = None) -> Path:
    """A genuine export: BYOL steps of byol_tiny_cnn on 16 learnable 16 px images (PNG), then export."""
    from byol_transfer.augment.recipes import load_recipe
    from byol_transfer.config import to_dict
    from byol_transfer.data.datasets.image_folder import ImageFolderDataset
    from byol_transfer.train.export import export_backbone
    from byol_transfer.train.loop import pretrain
    from byol_transfer.train.run_config import resolve_config

    images = write_labelled_folder(root / "images", 8, channels=channels, size=16)
    cfg = resolve_config(
        {"recipe": to_dict(load_recipe(recipe))}, "test",
        {"model.backbone": "byol_tiny_cnn", "data.image_size": 16, "data.batch_size": 8, "data.num_workers": 0,
         "model.projector_hidden": 32, "model.predictor_hidden": 32, "train.epochs": 1,
         "optim.name": "adamw", "optim.base_lr": 0.01},
        [],
    )
    pretrain(cfg, ImageFolderDataset(images, 16, band_names=band_names), root / "run", progress=False)
    out, _ = export_backbone(root / "run", root / "byol.safetensors")
    return out


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    """A genuine export: 2 BYOL steps of byol_tiny_cnn on 16 grayscale 16 px images, then export."""
    return pretrain_and_export(tmp_path_factory.mktemp("eval_export"), 1, "grayscale")


@pytest.fixture(scope="session")
def rgb_export(tmp_path_factory) -> Path:
    """RGB weights whose sidecar names its bands red, green, blue (natural_rgb, pretrained at 16 px)."""
    return pretrain_and_export(tmp_path_factory.mktemp("rgb_export"), 3, "natural_rgb", ["red", "green", "blue"])


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors and small scikit-learn fits gain nothing from threads, and on a shared 2-core machine
    torch's and BLAS's threads waiting on each other made these tests 4x slower; restored afterwards."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


# ---- segmentation ----------------------------------------------------------------------------------

CRS = "EPSG:32633"


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
