"""discover.py: a path's layout and card are found once per build, and the answer is what callers need."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import byol_transfer.data.build as build_module
import byol_transfer.data.discover as discover_module
from byol_transfer.data.build import build_dataset
from byol_transfer.data.discover import discover


@pytest.fixture
def disk_reads(monkeypatch):
    """Count every folder listing, first-image search and header read that layout/card detection makes."""
    calls: Counter = Counter()

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[(name, str(args[0]))] += 1
            return fn(*args, **kwargs)

        monkeypatch.setattr(discover_module, name, wrapper)

    for name in ("split_folders", "first_image", "probe_image"):
        counted(name, getattr(discover_module, name))
    return calls


def test_layout_and_card_are_detected_once_per_build(eurosat_like, disk_reads):
    ds = build_dataset(eurosat_like, 8, labeled=True)
    assert ds.layout == "geotiff_tiles" and ds.card is not None and ds.card.name == "eurosat_ms"
    assert ds.discovery.declares_test
    # the layout (which looks at the first image of the whole folder) and the card (which looks at the
    # first training image) each needed the disk, but nothing was looked at twice
    assert disk_reads and max(disk_reads.values()) == 1, disk_reads
    assert sum(n for (name, _), n in disk_reads.items() if name == "split_folders") == 1
    # and build.py itself lists no split folders: it reads the discovery's
    assert not hasattr(build_module, "split_folders")


def test_a_discovery_passed_in_is_not_repeated(eurosat_like, monkeypatch):
    found = discover(eurosat_like, None, image_size=8)

    def again(*args, **kwargs):
        raise AssertionError("build_dataset discovered the data again")

    monkeypatch.setattr(build_module, "discover", again)
    train = build_dataset(eurosat_like, 8, labeled=True, found=found)
    test = build_dataset(eurosat_like, 8, labeled=True, split="test", found=found)
    assert (len(train), len(test)) == (20, 10)
    assert train.card is found.card and test.discovery is found


def test_what_a_discovery_tells(write, eurosat_like):
    found = discover(eurosat_like)
    assert found.splits.keys() == {"train", "test"} and found.train_root == eurosat_like / "train"
    assert found.header is not None and (found.header.channels, found.header.dtype) == (13, "uint16")
    assert found.declares_splits and found.declares_test

    folder = write.class_folders("plain", ["a", "b"], 2, suffix=".png")
    plain = discover(folder)
    assert plain.layout == "image_folder" and not plain.declares_splits and not plain.declares_test
    assert plain.header is not None and plain.header.channels == 3

    with_test = discover(write.npz("m.npz", {"train": 2, "test": 1}))
    without = discover(write.npz("n.npz", {"train": 2, "val": 1}))
    assert with_test.layout == without.layout == "npz" and with_test.npz_file == write.root / "m.npz"
    assert with_test.declares_test and not without.declares_test
    assert with_test.declares_splits and without.header is None


def test_a_scene_list_is_discovered_without_touching_a_folder(write, scene):
    listing = write.root / "scenes.txt"
    listing.write_text(f"{scene}\n")
    found = discover(listing)
    assert found.layout == "geotiff_scenes" and found.scenes == (scene,)
    assert not found.declares_splits and not found.declares_test


def test_an_unreadable_first_image_is_left_to_the_dataset(write):
    write.pil("photos/a.png", np.zeros((8, 8, 3), np.uint8))
    (write.root / "photos" / "a.png").write_bytes(b"not a png")
    found = discover(write.root / "photos")
    assert found.layout == "image_folder" and found.header is None and found.card is None
