"""``segment --semi-supervised``: a mean-teacher run next to each supervised one, end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from byol_transfer.cli import main


@pytest.fixture(scope="module")
def semisup_run(tmp_path_factory, seg_write):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("segment_semisup")
    data = seg_write.seg_folder(root / "data", 12, channels=4, size=32)
    export, _ = seg_write.export(root / "byol.safetensors", "resnet18", 4)
    rc = main(["-q", "segment", "--data", str(data), "--backbone", f"byol={export}", "--arch", "unet",
               "--epochs", "1", "--fractions", "0.5", "--min-epoch-samples", "0", "--batch-size", "4",
               "--semi-supervised", "--semisup-mu", "2", "--semisup-threshold", "0.6", "--teacher-ema", "0.9",
               "--out", str(root / "out"), "--no-progress"])
    torch.set_num_threads(threads)
    return root, rc


def test_semisup_rows_models_and_pool(semisup_run):
    root, rc = semisup_run
    out = root / "out"
    assert rc == 0
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["evaluator"] for r in rows} == {"unet-finetune", "unet-semisup"}
    assert len([r for r in rows if r["seed"] != "all"]) == 2 * 6  # two runs of the one cell, six metrics each
    # one init, no baseline: intervals of both cells, no difference rows
    assert sorted(r["metric"] for r in rows if r["seed"] == "all") == ["mIoU.ci_high"] * 2 + ["mIoU.ci_low"] * 2
    report = (out / "report.md").read_text()
    assert "unet-semisup · 50%" in report and "mean teacher" in report and "EMA 0.9" in report
    run = json.loads((out / "run.json").read_text())
    cells = {c["evaluator"]: c for c in run["cells"]}
    # 12 pairs: 2 held out for testing; 5 of the other 10 labelled → the other 5 are the pool
    assert cells["unet-semisup"]["n_unlabeled"] == 5 and cells["unet-finetune"]["n_unlabeled"] == 0
    assert 0.0 <= cells["unet-semisup"]["consistency"]["pseudo_label_rate"] <= 1.0
    assert run["settings"]["semisup"]["mu"] == 2
    meta = json.loads((out / "models" / "byol-semisup" / "model.json").read_text())
    assert meta["semi_supervised"] is True
    assert json.loads((out / "models" / "byol" / "model.json").read_text())["semi_supervised"] is False


def test_semisup_model_predicts(semisup_run, seg_write, capsys):
    root, _ = semisup_run
    tile = seg_write.geotiff(root / "new" / "tile.tif", seg_write.water_pair(32, 4, np.random.default_rng(5))[0])
    rc = main(["-q", "predict", "--model", str(root / "out" / "models" / "byol-semisup"), "--data", str(tile),
               "--out", str(root / "pred")])
    assert rc == 0, capsys.readouterr().err
    assert any((root / "pred").iterdir())


def test_unlabeled_tiles_of_another_size_are_refused(seg_folder, seg_write, export_file, tmp_path, capsys):
    data = seg_folder(8, channels=4, size=32)
    pool = tmp_path / "pool"
    seg_write.geotiff(pool / "a.tif", seg_write.water_pair(32, 3, np.random.default_rng(0))[0])
    export, _ = export_file("resnet18", 4)
    rc = main(["-q", "segment", "--data", str(data), "--backbone", str(export), "--semi-supervised",
               "--unlabeled-data", str(pool), "--epochs", "1", "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "unlabelled images are (3, 32, 32)" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_teacher_ema_out_of_range_is_one_clear_line(seg_folder, export_file, tmp_path, capsys):
    export, _ = export_file("resnet18", 4)
    rc = main(["-q", "segment", "--data", str(seg_folder(8)), "--backbone", str(export), "--semi-supervised",
               "--teacher-ema", "1.0", "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "teacher EMA must lie in [0, 1), got 1.0" in err
