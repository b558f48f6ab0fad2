"""End to end through the CLI: segment on generated GeoTIFF + PNG pairs, then predict; clear errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from byol_transfer.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory, seg_write):
    """One tiny sweep: a BYOL-format export vs random init, 50% and 100% of 10 masks, 1 epoch."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("segment_cli")
    data = seg_write.seg_folder(root / "data", 12, channels=4, size=32)
    export, _ = seg_write.export(root / "byol.safetensors", "resnet18", 4)
    rc = main(["-q", "segment", "--data", str(data), "--backbone", f"byol={export}", "random", "--arch", "unet",
               "--epochs", "1", "--fractions", "0.5", "1.0", "--min-epoch-samples", "0", "--batch-size", "4",
               "--out", str(root / "out"), "--no-progress"])
    torch.set_num_threads(threads)
    return root, rc


def test_segment_writes_tidy_results_report_plot_and_models(trained):
    root, rc = trained
    out = root / "out"
    assert rc == 0
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["init", "evaluator", "fraction", "n_labels", "seed", "metric", "value", "init_kind"]
    rows = [r for r in rows if r["seed"] != "all"]  # the statistics rows: test_transfer_statistics.py
    assert {r["init"] for r in rows} == {"byol", "random"}
    assert {float(r["fraction"]) for r in rows} == {0.5, 1.0}
    assert {r["evaluator"] for r in rows} == {"unet-finetune"}
    assert {r["metric"] for r in rows} == {"mIoU", "mDice", "IoU[class_0]", "Dice[class_0]", "IoU[class_1]",
                                           "Dice[class_1]"}
    assert len(rows) == 2 * 2 * 6
    assert all(0.0 <= float(r["value"]) <= 1.0 for r in rows)
    # 12 pairs: 2 held out for testing; 50% of the other 10 = 5 masks (4 train + 1 validation)
    assert {(float(r["fraction"]), int(r["n_labels"])) for r in rows} == {(0.5, 5), (1.0, 10)}
    report = (out / "report.md").read_text()
    assert "## mIoU" in report and "## IoU[class_1]" in report and "| byol |" in report
    assert (out / "label_efficiency.png").stat().st_size > 1000
    splits = json.loads((out / "splits.json").read_text())
    assert len(splits["test"]["indices"]) == 2
    meta = json.loads((out / "models" / "byol" / "model.json").read_text())
    assert (meta["arch"], meta["encoder"], meta["in_chans"], meta["tile_size"]) == ("unet", "tu-resnet18", 4, 32)
    assert meta["classes"] == ["class_0", "class_1"] and meta["fraction"] == 1.0
    assert meta["resize"] == {"mode": "none"}
    assert meta["scaling"]["kind"] == "divide" and meta["normalize"]["mean"] == pytest.approx([0.2] * 4)
    assert (out / "models" / "random" / "model.safetensors").is_file()
    run = json.loads((out / "run.json").read_text())
    assert [i["name"] for i in run["inits"]] == ["byol", "random"] and len(run["cells"]) == 4


def test_predict_geotiff_keeps_crs_and_transform_and_png_gives_png(trained, seg_write, capsys):
    import rasterio
    from PIL import Image

    root, rc = trained
    assert rc == 0
    assert main(["predict", "--model", str(root / "out"), "--data", str(root), "--out", str(root / "x")]) == 2
    assert "holds 2 models; choose one" in capsys.readouterr().err

    image, _ = seg_write.water_pair(80, 4, np.random.default_rng(5))
    big = seg_write.geotiff(root / "new" / "scene.tif", image[:, :, :56], origin=(612_340.0, 4_101_230.0))
    seg_write.png(root / "new" / "photo.png", np.random.default_rng(0).integers(0, 255, (40, 24, 4), dtype=np.uint8))
    rc = main(["-q", "predict", "--model", str(root / "out" / "models" / "byol"), "--data", str(root / "new"),
               "--out", str(root / "pred"), "--overlap", "0.5", "--no-progress"])
    assert rc == 0
    with rasterio.open(big) as src, rasterio.open(root / "pred" / "scene.tif") as dst:
        assert dst.crs == src.crs and dst.crs.to_epsg() == 32633
        assert dst.transform == src.transform
        assert (dst.width, dst.height, dst.count, dst.dtypes[0]) == (56, 80, 1, "uint8")
        assert set(np.unique(dst.read(1)).tolist()) <= {0, 1}
    with Image.open(root / "pred" / "photo.png") as im:
        assert im.size == (24, 40) and im.mode == "L"


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    # one error line; log lines printed on the way ("byol-transfer: ...") may precede it
    lines = [line for line in err.splitlines() if not line.startswith("byol-transfer: ")]
    assert len(lines) == 1 and lines[0].startswith(("byol-transfer segment:", "byol-transfer predict:")), err
    assert "Traceback" not in err
    return lines[0]


def _segment(data, out, *extra):
    return ["segment", "--data", str(data), "--backbone", "random", "--encoder", "resnet18", "--epochs", "1",
            "--out", str(out), "--no-progress", *extra]


def test_mask_values_that_are_not_class_indices_are_refused(seg_folder, tmp_path, capsys):
    data = seg_folder(6, channels=4, size=32, mask_scale=255)
    err = _error(capsys, _segment(data, tmp_path / "out"))
    assert "masks hold the values [0, 255]" in err and "--mask-mapping 0=0 255=1" in err

    err = _error(capsys, _segment(data, tmp_path / "out", "--num-classes", "2"))
    assert "masks/0.png: mask values [255] are not class indices 0 … 1" in err


def test_mask_value_outside_the_declared_mapping_names_the_file(seg_folder, seg_write, tmp_path, capsys):
    data = seg_folder(6, channels=4, size=32)
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[3, 3] = 7
    seg_write.png(data / "masks" / "3.png", mask)
    err = _error(capsys, _segment(data, tmp_path / "out", "--mask-mapping", "0=0", "1=1"))
    assert "masks/3.png" in err and "[7]" in err


def test_size_errors_are_clear(seg_folder, seg_write, tmp_path, capsys):
    data = seg_folder(6, channels=4, size=32)
    seg_write.png(data / "masks" / "2.png", np.zeros((32, 30), dtype=np.uint8))
    err = _error(capsys, _segment(data, tmp_path / "out"))
    assert "masks/2.png" in err and "30×32" in err and "32×32" in err

    odd = seg_folder(6, channels=4, size=40)
    err = _error(capsys, _segment(odd, tmp_path / "out2"))
    assert "multiples of 32" in err and "40 px" in err and "--image-size" in err


def test_export_with_another_band_count_is_refused_before_training(seg_folder, export_file, tmp_path, capsys):
    data = seg_folder(6, channels=4, size=32)
    export, _ = export_file("resnet18", 3)
    err = _error(capsys, ["segment", "--data", str(data), "--backbone", str(export), "--out", str(tmp_path / "o")])
    # no band names on either side and no --band-map: the adaptation has no rule, so one line naming both
    assert "conv1.weight: the weights take 3 band(s) (no names), the data have 4 band(s) (no names)" in err
    assert "--band-map" in err and not (tmp_path / "o").exists()


def test_predict_refuses_images_with_another_band_count(trained, seg_write, capsys):
    root, _ = trained
    seg_write.geotiff(root / "three" / "a.tif", np.zeros((3, 32, 32), dtype=np.uint16))
    err = _error(capsys, ["predict", "--model", str(root / "out" / "models" / "random"), "--data",
                          str(root / "three"), "--out", str(root / "p3"), "--no-progress"])
    assert "a.tif: 3 band(s), but the model" in err and "takes 4" in err


def test_predict_bands_picks_the_training_bands_of_wider_images(trained, seg_write, capsys):
    root, _ = trained
    rng = np.random.default_rng(3)
    image, _ = seg_write.water_pair(32, 6, rng)  # 6 bands; the model was trained on 4
    seg_write.geotiff(root / "six" / "a.tif", image)
    err = _error(capsys, ["predict", "--model", str(root / "out" / "models" / "random"), "--data",
                          str(root / "six"), "--out", str(root / "p6-refused"), "--no-progress"])
    assert "6 band(s), but the model" in err and "--bands" in err
    assert main(["-q", "predict", "--model", str(root / "out" / "models" / "random"), "--data", str(root / "six"),
                 "--bands", "1,2,3,4", "--out", str(root / "p6"), "--no-progress"]) == 0
    seg_write.geotiff(root / "four" / "a.tif", image[:4])
    assert main(["-q", "predict", "--model", str(root / "out" / "models" / "random"), "--data", str(root / "four"),
                 "--out", str(root / "p4"), "--no-progress"]) == 0
    import rasterio

    with rasterio.open(root / "p6" / "a.tif") as six, rasterio.open(root / "p4" / "a.tif") as four:
        assert np.array_equal(six.read(), four.read())  # the same 4 bands in, the same mask out
