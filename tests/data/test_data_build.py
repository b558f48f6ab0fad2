"""build_dataset: layout detection, the sample contract, and the in-memory cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from byol_transfer.data.build import build_dataset
from byol_transfer.data.datasets.cache import InMemoryDataset
from byol_transfer.errors import UserError


def test_layouts_are_detected(write, eurosat_like):
    write.npz("m.npz", {"train": 2, "test": 1})
    write.pil("photos/a.jpg", np.zeros((8, 8, 3), np.uint8))
    write.seg_folder("seg", 1)
    write.geotiff("big.tif", np.ones((1, 64, 64), np.uint8))
    cases = {
        write.root / "m.npz": "npz",
        write.root / "photos": "image_folder",
        write.root / "seg": "segmentation",
        eurosat_like: "geotiff_tiles",
        write.root / "big.tif": "geotiff_scenes",
    }
    for path, layout in cases.items():
        ds = build_dataset(path, 8, card=False)
        assert ds.layout == layout, path
        sample = ds[0]
        assert sample["image"].ndim == 3 and sample["image"].shape[0] == ds.in_chans
        assert sample["image"].dtype == ds.dtype and isinstance(sample["meta"]["path"], str)


def test_path_and_layout_mistakes(tmp_path):
    with pytest.raises(UserError, match="data folder not found: .*nowhere"):
        build_dataset(tmp_path / "nowhere", 8)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="notes.txt: cannot read a single .txt file"):
        build_dataset(tmp_path / "notes.txt", 8)
    with pytest.raises(UserError, match="unknown layout 'tiles'"):
        build_dataset(tmp_path, 8, layout="tiles")


def test_cache_serves_the_same_samples_from_memory(eurosat_like):
    disk = build_dataset(eurosat_like, 8, labeled=True, split="test")
    memory = build_dataset(eurosat_like, 8, labeled=True, split="test", cache=True)
    assert isinstance(memory, InMemoryDataset)
    assert memory.in_chans == 13 and memory.dtype == torch.uint16 and memory.card.name == "eurosat_ms"
    assert memory.classes == disk.classes and len(memory) == len(disk) == 10
    for i in (0, 9):
        assert torch.equal(memory[i]["image"], disk[i]["image"]) and memory[i]["label"] == disk[i]["label"]
    batch = next(iter(DataLoader(memory, batch_size=4, num_workers=2)))
    assert batch["image"].shape == (4, 13, 8, 8) and batch["meta"]["transform"].shape == (4, 6)


def test_cache_of_segmentation_pairs_keeps_masks(write):
    root = write.seg_folder("seg", 3, mask_values=(0, 1))
    memory = build_dataset(root, 8, card=False, cache=True)
    assert torch.equal(memory[2]["mask"], build_dataset(root, 8, card=False)[2]["mask"])
