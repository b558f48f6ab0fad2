"""MedMNIST-style npz archives and DICOM slices."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from byol_transfer.data.build import build_dataset
from byol_transfer.data.datasets.npz import NpzDataset
from byol_transfer.data.formats.dispatch import probe_image, read_image
from byol_transfer.errors import UserError


def test_npz_splits_labels_and_gray_layout(write):
    path = write.npz("mnist.npz", {"train": 10, "val": 4, "test": 6}, size=8)
    train = NpzDataset(path, 8, labeled=True)
    assert len(train) == 10 and train.in_chans == 1 and train.dtype == torch.uint8 and train.split == "train"
    assert train.classes == ["0", "1"] and train.labels[:4] == [0, 1, 0, 1]
    sample = train[3]
    assert sample["image"].shape == (1, 8, 8) and sample["label"] == 1
    with np.load(path) as archive:
        assert torch.equal(sample["image"][0], torch.from_numpy(archive["train_images"][3]))
    assert len(NpzDataset(path, 8, split="test")) == 6
    assert len(NpzDataset(path, 8, split="all")) == 20
    resized = NpzDataset(path, 4, split="val", classes=["normal", "pneumonia"], labeled=True)
    assert resized[0]["image"].shape == (1, 4, 4) and resized.classes == ["normal", "pneumonia"]


def test_npz_rgb_and_flat_labels(write):
    path = write.npz("path.npz", {"train": 5, "test": 2}, rgb=True, classes=3, label_shape="flat")
    ds = build_dataset(path, 8, labeled=True, card=False)
    assert ds.layout == "npz" and ds.in_chans == 3 and ds[2]["label"] == 2 and ds[2]["image"].shape == (3, 8, 8)


def test_npz_folder_with_one_archive_is_detected(write):
    write.npz("medmnist/x.npz", {"train": 3, "test": 1})
    assert len(build_dataset(write.root / "medmnist", 8, card=False)) == 3


def test_npz_errors_name_the_file(write, tmp_path):
    path = write.npz("m.npz", {"train": 4, "test": 2})
    with pytest.raises(UserError, match="m.npz: no split 'val' \\(has: train, test, all\\)"):
        NpzDataset(path, 8, split="val")
    with pytest.raises(UserError, match="label 1 is outside the 1 declared classes"):
        NpzDataset(path, 8, labeled=True, classes=["only"])
    np.savez(tmp_path / "odd.npz", images=np.zeros((2, 4, 4)))
    with pytest.raises(UserError, match="odd.npz: no '<split>_images' array"):
        NpzDataset(tmp_path / "odd.npz", 8)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UserError, match="broken.npz: not a readable .npz"):
        NpzDataset(tmp_path / "broken.npz", 8)
    np.savez(tmp_path / "multi.npz", train_images=np.zeros((2, 4, 4), np.uint8), train_labels=np.zeros((2, 14)))
    with pytest.raises(UserError, match="multi-label"):
        NpzDataset(tmp_path / "multi.npz", 8, labeled=True)


def test_dicom_rescale_gives_hounsfield_units(write):
    pytest.importorskip("pydicom")
    raw = np.array([[0, 1024], [1064, 4095]], dtype=np.uint16)
    path = write.dicom("ct.dcm", raw, slope=1.0, intercept=-1024.0)
    info = probe_image(path)
    assert (info.channels, info.height, info.width, info.dtype) == (1, 2, 2, "int16")
    hu = read_image(path)
    assert hu.dtype == np.int16 and hu.tolist() == [[[-1024, 0], [40, 3071]]]
    fractional = write.dicom("ct_half.dcm", raw, slope=0.5, intercept=-512.0)
    assert probe_image(fractional).dtype == "float32"
    assert read_image(fractional).tolist() == [[[-512.0, 0.0], [20.0, 1535.5]]]


def test_dicom_folder_reads_through_the_factory(write):
    pytest.importorskip("pydicom")
    for i in range(3):
        write.dicom(f"ct/slice_{i}.dcm", np.full((8, 8), 1000 + i, np.uint16))
    ds = build_dataset(write.root / "ct", 4, card=False)
    assert len(ds) == 3 and ds.dtype == torch.int16 and ds[2]["image"][0, 0, 0].item() == -22


def test_dicom_without_pydicom_says_how_to_install(write, monkeypatch):
    path = write.root / "x.dcm"
    path.write_bytes(b"\x00" * 200)
    monkeypatch.setitem(sys.modules, "pydicom", None)  # `import pydicom` now raises ImportError
    with pytest.raises(UserError, match=r"x.dcm: reading DICOM needs pydicom.*byol-transfer\[dicom\]"):
        probe_image(path)


def test_non_dicom_file_with_dcm_suffix_names_the_file(write):
    pytest.importorskip("pydicom")
    path = write.root / "fake.dcm"
    path.write_text("not dicom")
    with pytest.raises(UserError, match="fake.dcm: not a readable DICOM"):
        probe_image(path)
