"""Bad data are named where they are read, never blamed on training.

Each case puts one bad file of a format among good ones and runs a command as a user would: exit 2, one
stderr line naming the file (and what is wrong with it), no traceback, nothing written. ``--skip-bad``
skips and counts such files instead; images much smaller than the image size are warned about in one line.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from byol_transfer.cli import main

GOOD = 8  # good images beside the bad one


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def noise(rng: np.random.Generator, size: int = 16, channels: int = 3) -> np.ndarray:
    return rng.integers(0, 256, (size, size, channels), dtype=np.uint8)


def write_tif(path: Path, array: np.ndarray, nodata: float | None = None) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
                       dtype=array.dtype.name, crs="EPSG:32633", transform=from_origin(5e5, 4e6, 10, 10),
                       nodata=nodata) as dst:
        dst.write(array)
    return path


def photo_folder(root: Path, suffix: str, rng: np.random.Generator) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(GOOD):
        data = png_bytes(noise(rng)) if suffix == ".png" else jpeg_bytes(noise(rng))
        (root / f"good{i}{suffix}").write_bytes(data)


def tif_folder(root: Path, dtype: str, rng: np.random.Generator) -> None:
    for i in range(GOOD):
        write_tif(root / f"good{i}.tif", (rng.random((3, 16, 16)) * 1000 + 1).astype(dtype))


# ---- one bad file per case: (folder builder, bad file writer) → the fragment the error must contain ----

def _png_cut(root, rng):
    photo_folder(root, ".png", rng)
    data = png_bytes(noise(rng))
    (root / "bad.png").write_bytes(data[: len(data) * 3 // 5])
    return root / "bad.png", "truncated PNG"


def _png_damaged_mid(root, rng):
    photo_folder(root, ".png", rng)
    data = png_bytes(noise(rng))
    (root / "bad.png").write_bytes(data[: len(data) * 3 // 5] + data[-12:])  # pixel data cut, IEND still there
    return root / "bad.png", "cannot decode"


def _jpeg_cut(root, rng):
    photo_folder(root, ".jpg", rng)
    data = jpeg_bytes(noise(rng, 64))  # 64 px: the cut falls in the pixel data, not the header
    (root / "bad.jpg").write_bytes(data[: len(data) * 3 // 5])
    return root / "bad.jpg", "truncated JPEG"


def _jpeg_damaged_mid(root, rng):
    photo_folder(root, ".jpg", rng)
    data = jpeg_bytes(noise(rng, 64))
    (root / "bad.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")  # decodes as grey without an error
    return root / "bad.jpg", "damaged JPEG"


def _geotiff_garbage(root, rng):
    tif_folder(root, "uint16", rng)
    (root / "bad.tif").write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return root / "bad.tif", "not a readable"


def _geotiff_cut(root, rng):
    tif_folder(root, "uint16", rng)
    whole = write_tif(root / "whole.tif", (rng.random((3, 64, 64)) * 1000).astype("uint16")).read_bytes()
    (root / "whole.tif").unlink()
    (root / "bad.tif").write_bytes(whole[: len(whole) * 3 // 5])
    return root / "bad.tif", "bad.tif"


def _geotiff_nan(root, rng):
    tif_folder(root, "float32", rng)
    array = rng.random((3, 16, 16)).astype("float32")
    array[1, 2:5, 2:5] = np.nan
    write_tif(root / "bad.tif", array)
    return root / "bad.tif", "NaN or infinite (band(s) 2)"


def _geotiff_inf(root, rng):
    tif_folder(root, "float32", rng)
    array = rng.random((3, 16, 16)).astype("float32")
    array[0, 0, 0] = np.inf
    write_tif(root / "bad.tif", array)
    return root / "bad.tif", "NaN or infinite"


def _geotiff_all_nodata(root, rng):
    tif_folder(root, "uint16", rng)
    write_tif(root / "bad.tif", np.full((3, 16, 16), 65535, dtype="uint16"), nodata=65535)
    return root / "bad.tif", "every pixel is the nodata value 65535"


def _geotiff_all_zero(root, rng):
    tif_folder(root, "uint16", rng)
    write_tif(root / "bad.tif", np.zeros((3, 16, 16), dtype="uint16"))
    return root / "bad.tif", "every pixel is 0 in every band"


def _dicom_garbage(root, rng):
    pytest.importorskip("pydicom")
    root.mkdir(parents=True)
    (root / "bad.dcm").write_bytes(b"\x00" * 128 + b"DICM" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    return root / "bad.dcm", "bad.dcm"


BAD_FILES = {
    "png-cut": _png_cut, "png-damaged-mid-file": _png_damaged_mid, "jpeg-cut": _jpeg_cut,
    "jpeg-damaged-mid-file": _jpeg_damaged_mid, "geotiff-garbage": _geotiff_garbage, "geotiff-cut": _geotiff_cut,
    "geotiff-nan": _geotiff_nan, "geotiff-inf": _geotiff_inf, "geotiff-all-nodata": _geotiff_all_nodata,
    "geotiff-all-zero": _geotiff_all_zero, "dicom-garbage": _dicom_garbage,
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_pretrain_names_the_bad_file_before_training(case, tmp_path, run_cli, drill):
    bad, fragment = BAD_FILES[case](tmp_path / "data", np.random.default_rng(0))
    result = run_cli(*drill.pretrain_args(tmp_path / "data", tmp_path / "run"))
    drill.clean_error(result, str(bad), fragment)
    assert not (tmp_path / "run").exists()
    assert "loss" not in result.err and "lr" not in result.err  # not blamed on training


@pytest.mark.parametrize("case", ["geotiff-all-zero", "geotiff-all-nodata", "jpeg-damaged-mid-file"])
def test_skip_bad_skips_and_names_the_file_instead(case, tmp_path, run_cli, drill, caplog):
    bad, _ = BAD_FILES[case](tmp_path / "data", np.random.default_rng(0))
    result = run_cli(*drill.pretrain_args(tmp_path / "data", tmp_path / "run", "--skip-bad"))
    assert result.code == 0, result.err
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "Traceback" not in result.err and any(str(bad) in m for m in skipped), skipped
    assert (tmp_path / "run" / "last.ckpt").is_file()


@pytest.mark.parametrize("case", ["geotiff-nan", "geotiff-all-zero"])
def test_stats_names_the_bad_file(case, tmp_path, run_cli, drill):
    bad, fragment = BAD_FILES[case](tmp_path / "data", np.random.default_rng(0))
    result = run_cli("stats", "--data", tmp_path / "data", "--out", tmp_path / "out" / "stats.json")
    drill.clean_error(result, str(bad), fragment)
    assert not (tmp_path / "out").exists()


def test_stats_names_the_folder_and_the_band_that_holds_no_data(tmp_path, run_cli, drill):
    rng = np.random.default_rng(0)
    for i in range(4):  # band 2 is nodata everywhere; bands 1 and 3 are fine
        array = (rng.random((3, 16, 16)) * 1000 + 1).astype("uint16")
        array[1] = 9999
        write_tif(tmp_path / "data" / f"t{i}.tif", array, nodata=9999)
    result = run_cli("stats", "--data", tmp_path / "data", "--out", tmp_path / "stats.json")
    drill.clean_error(result, str(tmp_path / "data"), "no valid pixels in band 2 ", "nodata value 9999")
    assert not (tmp_path / "stats.json").exists()


def test_label_efficiency_names_a_damaged_jpeg(tmp_path, run_cli, drill):
    rng = np.random.default_rng(0)
    photo_folder(tmp_path / "data" / "cats", ".jpg", rng)
    bad, fragment = _jpeg_damaged_mid(tmp_path / "data" / "dogs", rng)
    result = run_cli("label-efficiency", "--data", tmp_path / "data", "--backbone", "random", "--arch", "byol_tiny_cnn",
                     "--recipe", "natural_rgb", "--evaluators", "knn", "--knn-k", "3", "--fractions", "1.0",
                     "--seeds", "1", "--image-size", "16", "--no-progress", "--out", tmp_path / "out")
    drill.clean_error(result, str(bad), fragment)
    assert not (tmp_path / "out").exists()


def test_segment_names_an_image_with_nan_pixels(tmp_path, run_cli, drill):
    rng = np.random.default_rng(0)
    (tmp_path / "data" / "masks").mkdir(parents=True)
    for i in range(6):
        image = rng.random((3, 32, 32)).astype("float32")
        if i == 4:
            image[2, :4, :4] = np.nan
        write_tif(tmp_path / "data" / "images" / f"{i}.tif", image)
        mask = np.zeros((32, 32), np.uint8)
        mask[8:20, 8:20] = 1
        Image.fromarray(mask).save(tmp_path / "data" / "masks" / f"{i}.png")
    result = run_cli("segment", "--data", tmp_path / "data", "--backbone", "random", "--encoder", "resnet18",
                     "--recipe", "natural_rgb", "--epochs", "1", "--no-progress", "--out", tmp_path / "out")
    drill.clean_error(result, str(tmp_path / "data" / "images" / "4.tif"), "NaN or infinite (band(s) 3)")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fill", ["nodata", "nan"])
def test_prepare_tiles_refuses_a_scene_without_data(fill, tmp_path, run_cli, drill):
    if fill == "nodata":
        scene = write_tif(tmp_path / "scene.tif", np.full((2, 64, 64), -9999, dtype="int16"), nodata=-9999)
    else:
        scene = write_tif(tmp_path / "scene.tif", np.full((2, 64, 64), np.nan, dtype="float32"))
    result = run_cli("prepare", "tiles", scene, "--size", "16", "--out", tmp_path / "tiles")
    drill.clean_error(result, str(scene), "no 16-px tile has at least 90% valid pixels", "every pixel is nodata")
    assert not (tmp_path / "tiles").exists()  # no folder, no empty tiles.csv


def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case", ["wrong-keys", "nan-images"])
def test_npz_problems_name_the_archive(case, tmp_path, run_cli, drill):
    rng = np.random.default_rng(0)
    if case == "wrong-keys":
        archive = _npz(tmp_path / "med.npz", x_train=rng.integers(0, 256, (8, 16, 16), dtype=np.uint8))
        fragment = "no '<split>_images' array"
    else:
        images = rng.random((8, 16, 16, 3)).astype("float32")
        images[5, 0, 0, 0] = np.nan
        archive = _npz(tmp_path / "med.npz", train_images=images, train_labels=np.zeros(8, dtype=np.int64))
        fragment = "1 of 8 train_images hold NaN or infinite values (indices [5])"
    result = run_cli(*drill.pretrain_args(archive, tmp_path / "run"))
    drill.clean_error(result, str(archive), fragment)
    assert not (tmp_path / "run").exists()


def test_tiny_images_among_full_size_ones_are_counted_in_one_warning(tmp_path, run_cli, drill, caplog):
    rng = np.random.default_rng(0)
    photo_folder(tmp_path / "data", ".png", rng)
    for name, size in (("speck.png", 1), ("thumb.png", 4)):
        Image.fromarray(noise(rng, size)).save(tmp_path / "data" / name)
    result = run_cli(*drill.pretrain_args(tmp_path / "data", tmp_path / "run"))
    assert result.code == 0, result.err
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "smaller than" in r.getMessage()]
    assert len(warning) == 1, result.err
    assert "2 of 10 images are smaller than 8 px" in warning[0]
    assert "speck.png" in warning[0] and "thumb.png" in warning[0]


def test_truncated_images_stay_refused_when_another_library_allows_them(tmp_path, run_cli, drill, monkeypatch):
    from PIL import ImageFile

    _png_damaged_mid(tmp_path / "data", np.random.default_rng(0))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    result = run_cli(*drill.pretrain_args(tmp_path / "data", tmp_path / "run"))
    drill.clean_error(result, "LOAD_TRUNCATED_IMAGES")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def seg_model(tmp_path_factory) -> Path:
    """A tiny segmentation model (random resnet18, 1 epoch on 8 RGB 32 px pairs) for predict."""
    import torch

    root = tmp_path_factory.mktemp("predict_model")
    rng = np.random.default_rng(0)
    (root / "seg" / "images").mkdir(parents=True)
    (root / "seg" / "masks").mkdir()
    for i in range(8):
        Image.fromarray(noise(rng, 32)).save(root / "seg" / "images" / f"{i}.png")
        mask = np.zeros((32, 32), np.uint8)
        mask[4:12 + i, 4:20] = 1
        Image.fromarray(mask).save(root / "seg" / "masks" / f"{i}.png")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    assert main(["-q", "segment", "--data", str(root / "seg"), "--backbone", "random", "--encoder", "resnet18",
                 "--epochs", "1", "--min-epoch-samples", "1", "--batch-size", "4", "--no-progress",
                 "--out", str(root / "m")]) == 0
    torch.set_num_threads(threads)
    return sorted((root / "m" / "models").iterdir())[0]


def _new_images_with_a_damaged_jpeg(folder: Path) -> Path:
    rng = np.random.default_rng(1)
    folder.mkdir()
    (folder / "a_ok.jpg").write_bytes(jpeg_bytes(noise(rng, 32)))
    data = jpeg_bytes(noise(rng, 64))
    (folder / "b_scan.jpg").write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    return folder / "b_scan.jpg"


def test_predict_refuses_a_damaged_jpeg_and_writes_no_mask_for_it(seg_model, tmp_path, run_cli, drill):
    bad = _new_images_with_a_damaged_jpeg(tmp_path / "new")
    result = run_cli("predict", "--model", seg_model, "--data", tmp_path / "new", "--no-progress",
                     "--out", tmp_path / "masks")
    drill.clean_error(result, str(bad), "damaged JPEG")
    assert not (tmp_path / "masks" / "b_scan.png").exists()
    # the mask of the intact image before it is complete (written atomically), nothing else
    assert drill.snapshot(tmp_path / "masks") <= {"a_ok.png"}


def test_predict_skip_bad_counts_the_damaged_jpeg(seg_model, tmp_path, run_cli, caplog):
    bad = _new_images_with_a_damaged_jpeg(tmp_path / "new")
    result = run_cli("predict", "--model", seg_model, "--data", tmp_path / "new", "--no-progress", "--skip-bad",
                     "--out", tmp_path / "masks")
    assert result.code == 0, result.err
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert "skipped 1 bad image file(s)" in log and str(bad) in log
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["a_ok.png", "config.yaml"]  # + the settings used


@pytest.mark.parametrize("card_says_zero_is_nodata", [True, False])
def test_an_all_black_photo_is_nodata_only_when_the_card_says_so(card_says_zero_is_nodata, tmp_path, run_cli, drill):
    rng = np.random.default_rng(0)
    photo_folder(tmp_path / "data", ".png", rng)
    black = tmp_path / "data" / "black.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(black)
    card = tmp_path / "card" / "card.yaml"
    card.parent.mkdir()
    card.write_text("name: card\ntitle: photos with a nodata value\nlayout: image_folder\nchannels: 3\n"
                    f"dtype: uint8\nscaling: {{kind: auto}}\n{'nodata: 0' if card_says_zero_is_nodata else ''}\n")
    result = run_cli(*drill.pretrain_args(tmp_path / "data", tmp_path / "run"), "--card", card)
    if card_says_zero_is_nodata:
        drill.clean_error(result, str(black), "every pixel is the nodata value 0")
        assert not (tmp_path / "run").exists()
    else:  # black pixels in a photo are data
        assert result.code == 0, result.err


@pytest.mark.realdata
@pytest.mark.parametrize("folder", ["kvasir_seg/images", "eurosat_ms", "water_seg/images"])
def test_the_value_checks_refuse_no_real_image(folder, shared_data):
    """No false alarm on real files (the damaged-JPEG fill test on Kvasir's photos, nodata/NaN/all-zero on
    Sentinel-2 and water_seg tiles with DEM voids); EuroSAT RGB's 27,000 JPEGs passed too (11 s, not run here)."""
    from byol_transfer.data.image_files import find_images
    from byol_transfer.data.pixel_checks import check_pixels
    from byol_transfer.data.formats.dispatch import decode

    files = find_images(shared_data / folder)
    for path in files:
        decoded = decode(path)
        check_pixels(decoded.array, path, decoded.nodata, zero_is_nodata=path.suffix == ".tif")
    assert len(files) in (1000, 270, 306)


def test_prepare_tiles_checks_every_scene_before_writing_a_tile(tmp_path, run_cli, drill):
    rng = np.random.default_rng(0)
    good = write_tif(tmp_path / "a_good.tif", rng.integers(1, 4000, (2, 64, 64), dtype=np.uint16))
    empty = write_tif(tmp_path / "b_empty.tif", np.zeros((2, 64, 64), dtype=np.uint16), nodata=0)
    result = run_cli("prepare", "tiles", good, empty, "--size", "16", "--out", tmp_path / "tiles")
    drill.clean_error(result, str(empty), "the scene holds no data", "nodata (0)")
    assert not (tmp_path / "tiles").exists()  # not even the good scene's tiles


def test_prepare_tiles_names_a_scene_whose_best_window_is_too_sparse(tmp_path, run_cli, drill):
    array = np.zeros((1, 64, 64), dtype=np.uint16)
    array[0, ::4, ::4] = 100  # data everywhere, but 1 pixel in 16: every window has 6% valid pixels
    scene = write_tif(tmp_path / "sparse.tif", array, nodata=0)
    result = run_cli("prepare", "tiles", scene, "--size", "16", "--out", tmp_path / "tiles")
    drill.clean_error(result, str(scene), "no 16-px tile has at least 90% valid pixels", "the best window has 6%")
    assert not (tmp_path / "tiles").exists()
