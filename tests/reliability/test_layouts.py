"""Layouts that failed on real, unseen data, generated small and run end to end.

- Breast-ultrasound (BUSI) style: ``images/benign (1).png`` + ``masks/benign (1)_mask.png``, a second lesion
  as ``benign (1)_mask_1.png``; the images are grey stored as RGB.
- Grey images stored as 3-channel files with 1-channel exports (converted, logged), and real colour with
  a 1-channel export (a clear error, and ``--bands 1`` to force it).
- Previews of 28 px images: every grid cell at least 96 px.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SIZE = 32


def busi_folder(root: Path, n: int = 10, second_lesion: tuple[int, ...] = (3,), grey: bool = True) -> Path:
    """BUSI names and masks ({0, 255}); ``grey``: identical RGB channels (as BUSI ships them)."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(1, n + 1):
        name = f"{'benign' if i % 2 else 'malignant'} ({i})"
        lesion = np.zeros((SIZE, SIZE), np.uint8)
        lesion[4 + i % 5:14 + i % 5, 6:18] = 255
        tissue = rng.normal(150, 20, (SIZE, SIZE))
        tissue[lesion > 0] = rng.normal(60, 15, int((lesion > 0).sum()))
        grey_image = np.clip(tissue, 0, 255).astype(np.uint8)
        image = np.stack([grey_image] * 3, axis=-1) if grey else rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(image).save(root / "images" / f"{name}.png")
        Image.fromarray(lesion).save(root / "masks" / f"{name}_mask.png")
        if i in second_lesion:
            other = np.zeros((SIZE, SIZE), np.uint8)
            other[22:28, 22:28] = 255
            Image.fromarray(other).save(root / "masks" / f"{name}_mask_1.png")
    return root


def write_export(path: Path, architecture: str, in_chans: int) -> Path:
    """A BYOL-format export (timm weights + sidecar) of a random ``architecture`` for ``in_chans`` channels."""
    import torch
    from safetensors.torch import save_file

    from byol_transfer.models.backbones import create_backbone

    torch.manual_seed(0)
    backbone = create_backbone(architecture, in_chans)
    save_file({k: v.contiguous() for k, v in backbone.state_dict().items()}, str(path))
    meta = {"format": "byol-transfer/backbone", "format_version": 1, "architecture": architecture,
            "in_chans": in_chans, "image_size": SIZE, "recipe": "grayscale", "scaling": {"kind": "auto"},
            "normalize": {"mean": [0.5] * in_chans, "std": [0.25] * in_chans}}
    path.with_name(path.name + ".json").write_text(json.dumps(meta))
    return path


def segment_args(data: Path, out: Path, *backbone: str) -> list[str]:
    backbone = backbone or ("random", "--encoder", "resnet18", "--recipe", "natural_rgb")
    return ["segment", "--data", str(data), "--backbone", *backbone, "--epochs", "1", "--min-epoch-samples", "1",
            "--batch-size", "4", "--mask-mapping", "0=0", "255=1", "--no-progress", "--out", str(out)]


def messages(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


@pytest.fixture(autouse=True)
def _info_records(caplog):
    """The CLI runs with -q (warnings only on stderr); the layout decisions are logged at INFO."""
    caplog.set_level(logging.INFO, logger="byol_transfer")


def test_busi_masks_pair_by_their_detected_suffix_and_a_second_lesion_is_merged(tmp_path, run_cli, caplog):
    data = busi_folder(tmp_path / "busi", second_lesion=(3, 7))
    result = run_cli(*segment_args(data, tmp_path / "out"))
    assert result.code == 0, result.err
    log = messages(caplog)
    assert "every mask is named <image stem>_mask" in log
    assert "2 image(s) have several masks (e.g. benign (3)_mask.png, benign (3)_mask_1.png): merged by union" in log
    with (tmp_path / "out" / "results.csv").open() as f:
        assert {r["metric"] for r in csv.DictReader(f)} >= {"mIoU", "mDice"}


def test_the_merged_mask_is_the_union_of_both_lesions(tmp_path):
    from byol_transfer.data.build import build_dataset

    data = busi_folder(tmp_path / "busi", n=4, second_lesion=(3,))
    dataset = build_dataset(data, None, layout="segmentation", mask_mapping={0: 0, 255: 1})
    index = [image.name for image, _ in dataset.pairs].index("benign (3).png")
    mask = dataset[index]["mask"].numpy()
    first = np.asarray(Image.open(data / "masks" / "benign (3)_mask.png")) > 0
    second = np.asarray(Image.open(data / "masks" / "benign (3)_mask_1.png")) > 0
    assert np.array_equal(mask.astype(bool), first | second) and second.any() and not (first & second).any()


def test_several_multi_class_masks_of_one_image_are_refused_naming_them(tmp_path, run_cli, drill):
    data = busi_folder(tmp_path / "busi", second_lesion=(3,))
    extra = np.zeros((SIZE, SIZE), np.uint8)
    extra[22:28, 22:28] = 2  # class 2: a multi-class mask
    Image.fromarray(extra).save(data / "masks" / "benign (3)_mask_1.png")
    args = [a for a in segment_args(data, tmp_path / "out") if a not in ("--mask-mapping", "0=0", "255=1")]
    args += ["--mask-mapping", "0=0", "255=1", "2=2"]
    result = run_cli(*args)
    drill.clean_error(result, "benign (3).png", "benign (3)_mask.png, benign (3)_mask_1.png", "only binary masks")
    assert not (tmp_path / "out").exists()


def test_an_explicit_mask_suffix_that_does_not_match_names_the_mask(tmp_path, run_cli, drill):
    data = busi_folder(tmp_path / "busi", n=4)
    result = run_cli(*segment_args(data, tmp_path / "out"), "--mask-suffix", "_seg")
    drill.clean_error(result, "_mask.png", "does not end with the mask suffix '_seg'")
    assert not (tmp_path / "out").exists()


def test_stats_reads_a_busi_folder_with_its_mask_suffix(tmp_path, run_cli):
    data = busi_folder(tmp_path / "busi", n=4)
    result = run_cli("stats", "--data", data, "--mask-suffix", "_mask", "--out", tmp_path / "stats.json")
    assert result.code == 0, result.err
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["images"] == 4 and len(stats["mean"]) == 3


def test_grey_stored_as_rgb_becomes_one_channel_for_a_one_channel_export_in_segment(tmp_path, run_cli, caplog):
    data = busi_folder(tmp_path / "busi", n=8)
    export = write_export(tmp_path / "byol.safetensors", "resnet18", 1)
    result = run_cli(*segment_args(data, tmp_path / "out", f"byol={export}"))
    assert result.code == 0, result.err
    assert "images are grey stored as RGB (identical channels in 8 sampled files): using one channel" in messages(caplog)
    model = json.loads(next((tmp_path / "out" / "models").glob("*/model.json")).read_text())
    assert model["in_chans"] == 1


def grey_rgb_classes(root: Path, grey: bool = True) -> Path:
    rng = np.random.default_rng(0)
    for c, level in (("benign", 80), ("malignant", 170)):
        (root / c).mkdir(parents=True)
        for i in range(6):
            g = np.clip(rng.normal(level, 25, (16, 16)), 0, 255).astype(np.uint8)
            image = np.stack([g] * 3, -1) if grey else rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / c / f"{c} ({i}).png")
    return root


def label_efficiency_args(data: Path, export: Path, out: Path) -> list[str]:
    return ["label-efficiency", "--data", str(data), "--backbone", f"byol={export}", "--evaluators", "knn",
            "--knn-k", "3", "--fractions", "1.0", "--seeds", "1", "--image-size", "16", "--no-progress",
            "--out", str(out)]


def test_grey_stored_as_rgb_runs_through_label_efficiency_with_a_one_channel_export(tmp_path, run_cli, caplog):
    data = grey_rgb_classes(tmp_path / "classes")
    export = write_export(tmp_path / "byol.safetensors", "byol_tiny_cnn", 1)
    result = run_cli(*label_efficiency_args(data, export, tmp_path / "out"))
    assert result.code == 0, result.err
    assert "images are grey stored as RGB" in messages(caplog)
    with (tmp_path / "out" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["init"] for r in rows} == {"byol"}


def test_colour_images_with_a_one_channel_export_are_refused_with_the_way_out(tmp_path, run_cli, drill):
    data = grey_rgb_classes(tmp_path / "classes", grey=False)
    export = write_export(tmp_path / "byol.safetensors", "byol_tiny_cnn", 1)
    result = run_cli(*label_efficiency_args(data, export, tmp_path / "out"))
    drill.clean_error(result, str(data), "1 channel expected", "--bands 1")
    assert not (tmp_path / "out").exists()

    forced = run_cli(*label_efficiency_args(data, export, tmp_path / "out"), "--bands", "1")
    assert forced.code == 0, forced.err


@pytest.mark.parametrize("layout", ["png-folder", "npz"])
def test_previews_of_28px_images_have_cells_of_at_least_96px(layout, tmp_path, run_cli):
    rng = np.random.default_rng(0)
    if layout == "npz":
        data = tmp_path / "mnist.npz"
        np.savez(data, train_images=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
                 train_labels=np.zeros((6, 1), np.uint8))
    else:
        data = tmp_path / "small"
        data.mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "preview.png"
    result = run_cli("preview", "--config", "grayscale", "--data", data, "--n", "2", "--out", out)
    assert result.code == 0, result.err
    from byol_transfer.augment.preview import PAD

    with Image.open(out) as im:
        width, height = im.size
        pixels = np.asarray(im.convert("L"))
    cell = (width - 4 * PAD) / 3
    assert cell >= 96 and cell == (height - 3 * PAD) / 2 and cell % 28 == 0  # whole-factor nearest upscale
    first = pixels[PAD:PAD + int(cell), PAD:PAD + int(cell)]
    factor = int(cell) // 28
    assert np.array_equal(first, np.repeat(np.repeat(first[::factor, ::factor], factor, 0), factor, 1))


def test_busi_as_downloaded_masks_beside_images_are_not_read_as_images(tmp_path, run_cli, caplog):
    """Dataset_BUSI_with_GT/benign/benign (1).png next to benign (1)_mask.png (and _mask_1.png)."""
    from byol_transfer.data.build import build_dataset

    root = tmp_path / "Dataset_BUSI_with_GT"
    for cls in ("benign", "malignant"):
        part = busi_folder(tmp_path / cls, n=6, second_lesion=(3,))
        (root / cls).mkdir(parents=True)
        for f in [*(part / "images").iterdir(), *(part / "masks").iterdir()]:
            f.rename(root / cls / f.name.replace("malignant", cls).replace("benign", cls))
    dataset = build_dataset(root, 16, labeled=True)
    assert len(dataset) == 12 and all("_mask" not in p.name for p in dataset.files)
    assert "left out 14 mask file(s) lying beside their images" in messages(caplog)

    export = write_export(tmp_path / "byol.safetensors", "byol_tiny_cnn", 1)
    result = run_cli(*label_efficiency_args(root, export, tmp_path / "out"))
    assert result.code == 0, result.err
    assert "images are grey stored as RGB" in messages(caplog)


def test_grey_detection_tolerates_encoder_rounding_but_not_colour():
    from byol_transfer.data.datasets.grey_rgb import is_grey_rgb

    rng = np.random.default_rng(0)
    grey = rng.integers(2, 250, (1, 16, 16))
    rounded = np.concatenate([grey, grey + rng.integers(-1, 2, grey.shape), grey + 2]).astype(np.uint8)
    assert is_grey_rgb(rounded)
    tinted = rounded.copy()
    tinted[2, 3, 3] += 3  # one pixel with a real colour difference
    assert not is_grey_rgb(tinted)
    assert not is_grey_rgb(rng.integers(0, 256, (3, 16, 16), dtype=np.uint8))
