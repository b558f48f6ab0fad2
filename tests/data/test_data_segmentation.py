"""Segmentation pairs: matching, mask mappings and every pairing mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from byol_transfer.data.build import build_dataset
from byol_transfer.data.datasets.segmentation import SegmentationDataset
from byol_transfer.errors import UserError


def test_pairs_match_by_stem_across_extensions_with_binary_mapping(write):
    root = write.seg_folder("seg", 3, image_ext=".jpg")
    ds = build_dataset(root, 8, mask_mapping={0: 0, 255: 1}, card=False)
    assert isinstance(ds, SegmentationDataset) and len(ds) == 3 and ds.in_chans == 3
    sample = ds[0]
    assert sample["mask"].dtype == torch.long and sample["mask"].shape == (8, 8)
    assert sample["mask"][:4].eq(1).all() and sample["mask"][4:].eq(0).all()
    assert sample["meta"]["mask_path"].endswith("masks/0.png")


def test_mask_suffix_and_joint_resize(write):
    root = write.seg_folder("seg", 2, size=16, mask_suffix="_mask", mask_values=(0, 1))
    ds = SegmentationDataset(root, 8, mask_suffix="_mask")
    sample = ds[1]
    assert sample["image"].shape == (3, 8, 8) and sample["mask"].shape == (8, 8)
    assert sample["mask"][:4].eq(1).all() and sample["mask"][4:].eq(0).all()  # nearest keeps the boundary


def test_geotiff_images_with_png_masks_keep_georeference(write):
    root = write.seg_folder("seg", 2, image_ext=".tif", mask_values=(0, 1))
    sample = SegmentationDataset(root, 8)[0]
    assert sample["meta"]["crs"] == "EPSG:32632" and sample["meta"]["transform"].shape == (6,)


def test_palette_masks_use_their_indices(write):
    indices = np.zeros((8, 8), np.uint8)
    indices[:, 4:] = 2
    write.pil("seg/images/a.png", np.zeros((8, 8, 3), np.uint8))
    write.palette_png("seg/masks/a.png", indices, [(0, 0, 0), (255, 0, 0), (0, 255, 0)])
    mask = SegmentationDataset(write.root / "seg", 8, mapping={0: 0, 2: 1})[0]["mask"]
    assert mask[:, 4:].eq(1).all() and mask[:, :4].eq(0).all()


def test_colour_masks_need_and_use_a_declared_mapping(write):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:4] = (255, 0, 0)
    write.pil("seg/images/a.png", np.zeros((8, 8, 3), np.uint8))
    write.pil("seg/masks/a.png", rgb)
    mask = SegmentationDataset(write.root / "seg", 8, mapping={"0,0,0": 0, "255,0,0": 3})[0]["mask"]
    assert mask[:4].eq(3).all() and mask[4:].eq(0).all()
    with pytest.raises(UserError, match="a.png: colour mask needs a declared 'R,G,B'"):
        SegmentationDataset(write.root / "seg", 8)[0]
    with pytest.raises(UserError, match=r"a.png: mask colour \(255, 0, 0\) is not in the declared mapping"):
        SegmentationDataset(write.root / "seg", 8, mapping={"0,0,0": 0})[0]


def test_mask_values_outside_the_mapping_name_the_file(write):
    root = write.seg_folder("seg", 2, mask_values=(0, 128))
    ds = SegmentationDataset(root, 8, mapping={0: 0, 255: 1})
    with pytest.raises(UserError, match=r"masks/0.png: mask values \[128\] are not in the declared mapping \[0, 255\]"):
        ds[0]


def test_mask_without_image_and_image_without_mask(write, caplog):
    root = write.seg_folder("seg", 3)
    (root / "images" / "2.png").unlink()
    with pytest.raises(UserError, match="masks/2.png: mask with no image"):
        SegmentationDataset(root, 8)
    with caplog.at_level("WARNING"):
        ds = SegmentationDataset(root, 8, skip_bad=True)
    assert len(ds) == 2 and ds.skipped == 1 and "mask with no image" in caplog.text
    root = write.seg_folder("seg2", 3)
    (root / "masks" / "0.png").unlink()
    with pytest.raises(UserError, match="images/0.png: image with no mask"):
        SegmentationDataset(root, 8)


def test_mask_size_differs_from_image(write):
    root = write.seg_folder("seg", 2)
    write.pil("seg/masks/1.png", np.zeros((6, 8), np.uint8))
    with pytest.raises(UserError, match=r"masks/1.png: mask is 8×6 px but its image 1.png is 8×8"):
        SegmentationDataset(root, 8)


def test_duplicate_stems_and_missing_suffix(write):
    root = write.seg_folder("seg", 2)
    write.pil("seg/images/0.jpg", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UserError, match="two files with the stem '0'"):
        SegmentationDataset(root, 8)
    root = write.seg_folder("seg2", 1)
    with pytest.raises(UserError, match="does not end with the mask suffix '_mask'"):
        SegmentationDataset(root, 8, mask_suffix="_mask")


def test_split_folders_with_images_and_masks(write):
    write.seg_folder("ds/train", 3)
    write.seg_folder("ds/test", 1)
    assert len(build_dataset(write.root / "ds", 8, card=False)) == 3
    assert len(build_dataset(write.root / "ds", 8, split="test", card=False)) == 1
