"""The five real datasets in ../shared/data, read through the public API (skipped when absent).

Counts, shapes, dtypes, label sets and split sizes are checked against their README and data cards.
Where counting is enough, the large sets are counted without decoding every file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from byol_transfer.data import build_dataset, load_card
from byol_transfer.data.labels import read_label_csv

pytestmark = pytest.mark.realdata

EUROSAT_CLASSES = ["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture",
                   "PermanentCrop", "Residential", "River", "SeaLake"]


def test_eurosat_rgb(shared_data):
    card = load_card("eurosat_rgb")
    root = shared_data / "eurosat_rgb"
    counts = {c: len(list((root / c).glob("*.jpg"))) for c in EUROSAT_CLASSES}
    assert counts == card.expected["class_counts"] and sum(counts.values()) == 27000
    train = read_label_csv(root / card.split_files["train"], root, card.classes)
    assert len(train.files) == 21600 and sorted(set(train.labels)) == list(range(10))
    test = build_dataset(root, 64, labeled=True, split="test")  # card detected from the class folders
    assert test.card.name == "eurosat_rgb" and len(test) == 5400 and test.classes == EUROSAT_CLASSES
    assert not set(map(str, test.files)) & set(map(str, train.files))
    assert np.bincount(test.labels).tolist() == [600, 600, 600, 500, 500, 400, 500, 600, 500, 600]
    sample = test[0]
    assert sample["image"].shape == (3, 64, 64) and sample["image"].dtype == torch.uint8
    assert test.in_chans == 3 and test.dtype == torch.uint8


def test_eurosat_ms(shared_data):
    root = shared_data / "eurosat_ms"
    expected = load_card("eurosat_ms").expected
    for split in ("train", "test"):
        ds = build_dataset(root, 64, labeled=True, split=split)
        assert ds.card.name == "eurosat_ms" and ds.layout == "geotiff_tiles"
        assert len(ds) == expected["images"][split] and ds.classes == EUROSAT_CLASSES
        assert dict(zip(ds.classes, np.bincount(ds.labels).tolist())) == expected["class_counts"][split]
        assert ds.in_chans == 13 and ds.dtype == torch.uint16 and ds.band_names[-1] == "B8A"
    batch = next(iter(DataLoader(ds, batch_size=8, num_workers=2)))
    assert batch["image"].shape == (8, 13, 64, 64) and batch["image"].dtype == torch.uint16
    assert all(crs.startswith("EPSG:326") for crs in batch["meta"]["crs"])  # UTM north
    assert torch.allclose(batch["meta"]["transform"][:, 0], torch.full((8,), 10.0, dtype=torch.float64), atol=0.1)
    rgb = build_dataset(root, 64, split="test", bands=["B04", "B03", "B02"])
    assert rgb.in_chans == 3 and torch.equal(rgb[0]["image"], ds[0]["image"][[3, 2, 1]])


def test_water_seg(shared_data):
    # by default the card's committed training list (datasets/water_seg/splits/train.txt); "all": every pair
    assert len(build_dataset(shared_data / "water_seg", 128)) == 245
    ds = build_dataset(shared_data / "water_seg", 128, split="all")
    assert ds.card.name == "water_seg" and len(ds) == 306
    assert ds.in_chans == 12 and ds.dtype == torch.int16 and ds.band_names[4] == "nir"
    water = []
    for i in range(0, 306, 5):
        sample = ds[i]
        assert sample["image"].shape == (12, 128, 128) and sample["mask"].shape == (128, 128)
        assert set(sample["mask"].unique().tolist()) <= {0, 1}
        water.append(sample["mask"].float().mean().item())
    assert np.mean(water) == pytest.approx(0.26, abs=0.05)
    assert ds[0]["meta"]["crs"] == ""  # these tiles carry no CRS


def test_pneumoniamnist(shared_data):
    sizes = load_card("pneumoniamnist").expected["split_sizes"]
    for split, n in sizes.items():
        ds = build_dataset(shared_data / "pneumoniamnist", 28, labeled=True, split=split)
        assert ds.card.name == "pneumoniamnist" and len(ds) == n and ds.classes == ["normal", "pneumonia"]
        assert set(ds.labels) == {0, 1}
    train = build_dataset(shared_data / "pneumoniamnist" / "pneumoniamnist.npz", 28, labeled=True)
    assert np.bincount(train.labels).tolist() == [1214, 3494]
    sample = train[0]
    assert sample["image"].shape == (1, 28, 28) and sample["image"].dtype == torch.uint8
    assert len(build_dataset(shared_data / "pneumoniamnist", 28, split="all")) == 4708 + 524 + 624


def test_kvasir_seg(shared_data):
    assert len(build_dataset(shared_data / "kvasir_seg", None)) == 800  # the training list
    native = build_dataset(shared_data / "kvasir_seg", None, split="all")
    assert native.card.name == "kvasir_seg" and len(native) == 1000 and native.in_chans == 3
    for i in (0, 499, 999):
        sample = native[i]
        _, h, w = sample["image"].shape
        assert max(h, w) <= 384 and sample["mask"].shape == (h, w)
        assert set(sample["mask"].unique().tolist()) == {0, 1}  # {0, 255} mapped by the card
    square = build_dataset(shared_data / "kvasir_seg", 64)
    batch = next(iter(DataLoader(square, batch_size=4)))
    assert batch["image"].shape == (4, 3, 64, 64) and batch["mask"].shape == (4, 64, 64)
