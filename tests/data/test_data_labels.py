"""Labels from class folders, CSV files and split folders."""

from __future__ import annotations

import numpy as np
import pytest

from byol_transfer.data.build import build_dataset
from byol_transfer.data.labels import read_label_csv, split_folders
from byol_transfer.errors import UserError


@pytest.fixture
def pngs(write):
    root = write.root / "imgs"
    for cls in ("cat", "dog"):
        for i in range(3):
            write.pil(f"imgs/{cls}/{i}.png", np.full((8, 8, 3), i, np.uint8))
    return root


def test_class_per_subfolder(pngs):
    ds = build_dataset(pngs, 8, labeled=True, card=False)
    assert ds.classes == ["cat", "dog"] and ds.labels == [0, 0, 0, 1, 1, 1]
    assert ds[4]["label"] == 1 and ds[4]["meta"]["path"].endswith("dog/1.png")


def test_declared_classes_fix_the_order_and_reject_unknown_folders(pngs):
    ds = build_dataset(pngs, 8, labeled=True, classes=["dog", "cat"], card=False)
    assert ds.labels == [1, 1, 1, 0, 0, 0]
    with pytest.raises(UserError, match="unknown class 'dog'"):
        build_dataset(pngs, 8, labeled=True, classes=["cat", "bird"], card=False)


def test_csv_labels_by_name_with_header(pngs, tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\ncat/0.png,tabby\ndog/2.png,beagle\ncat/1.png,tabby\n")
    ds = build_dataset(pngs, 8, labels=csv, labeled=True, card=False)
    assert [p.name for p in ds.files] == ["0.png", "2.png", "1.png"]
    assert ds.classes == ["beagle", "tabby"] and ds.labels == [1, 0, 1]


def test_tab_separated_indices_with_classes_txt(pngs, tmp_path):
    """The EuroSAT split files: relative/path<TAB>class index, classes.txt beside them."""
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    (tmp_path / "train.txt").write_text("cat/0.png\t0\ndog/0.png\t1\n")
    table = read_label_csv(tmp_path / "train.txt", pngs)
    assert table.classes == ["cat", "dog"] and table.labels == [0, 1]


def test_numeric_labels_keep_their_value(pngs, tmp_path):
    csv = tmp_path / "l.csv"
    csv.write_text("cat/0.png,2\ncat/1.png,0\n")
    table = read_label_csv(csv, pngs)
    assert table.classes == ["0", "1", "2"] and table.labels == [2, 0]


def test_csv_split_column(pngs, tmp_path):
    csv = tmp_path / "l.csv"
    csv.write_text("cat/0.png,cat,train\ncat/1.png,cat,test\ndog/0.png,dog,train\n")
    ds = build_dataset(pngs, 8, labels=csv, labeled=True, split="train", card=False)
    assert len(ds) == 2


def test_unknown_label_in_csv_names_file_and_line(pngs, tmp_path):
    csv = tmp_path / "l.csv"
    csv.write_text("cat/0.png,cat\ndog/0.png,wolf\n")
    with pytest.raises(UserError, match=r"l.csv line 2: unknown label 'wolf' \(declared classes: cat, dog\)"):
        read_label_csv(csv, pngs, classes=["cat", "dog"])
    csv.write_text("cat/0.png,7\n")
    with pytest.raises(UserError, match="line 1: unknown label '7'"):
        read_label_csv(csv, pngs, classes=["cat", "dog"])


def test_missing_image_in_csv_names_file_and_line(pngs, tmp_path):
    csv = tmp_path / "l.csv"
    csv.write_text("path,label\ncat/0.png,cat\ncat/99.png,cat\n")
    with pytest.raises(UserError, match=r"l.csv line 3: image not found: .*cat/99.png"):
        build_dataset(pngs, 8, labels=csv, labeled=True, card=False)
    with pytest.raises(UserError, match="label file not found: .*nope.csv"):
        build_dataset(pngs, 8, labels=tmp_path / "nope.csv", card=False)


def test_train_and_test_folders_are_a_given_split(write):
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("a", "b"):
            for i in range(n):
                write.pil(f"ds/{split}/{cls}/{i}.png", np.zeros((8, 8), np.uint8))
    root = write.root / "ds"
    assert set(split_folders(root)) == {"train", "test"}
    assert len(build_dataset(root, 8, card=False)) == 6  # unlabeled default: the training split only
    test = build_dataset(root, 8, labeled=True, split="test", card=False)
    assert len(test) == 4 and test.classes == ["a", "b"]
    assert len(build_dataset(root, 8, split="all", card=False)) == 10
    with pytest.raises(UserError, match="no val/ folder"):
        build_dataset(root, 8, split="val", card=False)
