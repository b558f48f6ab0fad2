"""Shared test set-up: offline hubs, deterministic torch, and the ``realdata`` marker.

Tests marked ``realdata`` read ../shared/data (or $BYOL_TRANSFER_SHARED_DATA) and are skipped when it
is absent, so a user's fresh clone still passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BYOL_TRANSFER_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real data folder {SHARED_DATA} is absent")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread; on a busy shared CPU, two threads are ~10× slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shared_data() -> Path:
    """The read-only real datasets (tests using it must also be marked ``realdata``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def write_image_folder(root: Path, n: int, channels: int, size: int = 16, seed: int = 0) -> Path:
    """``n`` random images with ``channels`` bands: PNG for 1 or 3 bands, GeoTIFF (with a CRS) otherwise."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        if channels in (1, 3):
            array = rng.integers(0, 256, (size, size, channels), dtype=np.uint8)
            Image.fromarray(array[..., 0] if channels == 1 else array).save(root / f"img_{i:03d}.png")
        else:
            import rasterio
            from rasterio.transform import from_origin

            array = rng.integers(0, 10_000, (channels, size, size), dtype=np.uint16)
            with rasterio.open(
                root / f"img_{i:03d}.tif", "w", driver="GTiff", width=size, height=size, count=channels,
                dtype="uint16", crs="EPSG:32633", transform=from_origin(500_000, 4_000_000, 10, 10),
            ) as dst:
                dst.write(array)
    return root


@pytest.fixture
def image_folder(tmp_path: Path):
    """Factory: ``image_folder(n, channels, size=16)`` → a folder of tiny real-format images."""
    counter = iter(range(1000))

    def make(n: int = 16, channels: int = 3, size: int = 16) -> Path:
        return write_image_folder(tmp_path / f"images_{next(counter)}", n, channels, size)

    return make
