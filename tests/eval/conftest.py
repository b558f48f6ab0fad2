"""Fixtures for the evaluation tests: tiny *learnable* labelled image folders and a real BYOL export.

Each class has its own pattern (horizontal stripes, vertical stripes, checkerboard, …) under noise, so
an encoder that trains at all can tell the classes apart, written as genuine PNG (1 or 3 channels) or
GeoTIFF (uint16, any band count) files.
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> Path:
    """A genuine export: 2 BYOL steps of byol_tiny_cnn on 16 grayscale 16 px images, then export."""
    from byol_transfer.augment.recipes import load_recipe
    from byol_transfer.config import to_dict
    from byol_transfer.data.datasets.image_folder import ImageFolderDataset
    from byol_transfer.train.export import export_backbone
    from byol_transfer.train.loop import pretrain
    from byol_transfer.train.run_config import resolve_config

    root = tmp_path_factory.mktemp("eval_export")
    images = write_labelled_folder(root / "images", 8, channels=1, size=16)
    cfg = resolve_config(
        {"recipe": to_dict(load_recipe("grayscale"))}, "test",
        {"model.backbone": "byol_tiny_cnn", "data.image_size": 16, "data.batch_size": 8, "data.num_workers": 0,
         "model.projector_hidden": 32, "model.predictor_hidden": 32, "train.epochs": 1,
         "optim.name": "adamw", "optim.base_lr": 0.01},
        [],
    )
    pretrain(cfg, ImageFolderDataset(images, 16), root / "run", progress=False)
    out, _ = export_backbone(root / "run", root / "byol.safetensors")
    return out


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
