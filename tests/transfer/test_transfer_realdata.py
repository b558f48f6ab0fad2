"""The evaluation pipeline on real EuroSAT RGB tiles (a few hundred of the fixed split), random init."""

import csv

import pytest

from byol_transfer.cli import main


@pytest.mark.realdata
def test_label_efficiency_on_a_slice_of_the_fixed_eurosat_split(capsys, shared_data, tmp_path):
    splits = shared_data / "eurosat_rgb_splits"
    (tmp_path / "classes.txt").write_text((splits / "classes.txt").read_text())
    for name, n in (("train", 300), ("test", 100)):  # the split files are already in shuffled order
        lines = (splits / f"{name}.txt").read_text().splitlines()[:n]
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "le"
    code = main(["-q", "label-efficiency", "--data", str(shared_data / "eurosat_rgb"),
                 "--labels", str(tmp_path / "train.txt"), "--test-labels", str(tmp_path / "test.txt"),
                 "--backbone", "random", "--arch", "resnet18", "--recipe", "satellite_rgb", "--image-size", "64",
                 "--fractions", "0.1", "1.0", "--seeds", "1", "--evaluators", "knn,linear", "--no-progress",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    with (out / "results.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["metric"] == "accuracy"]
    assert {(r["evaluator"], r["fraction"]) for r in rows} == {
        ("knn@20", "0.1"), ("knn@20", "1.0"), ("linear", "0.1"), ("linear", "1.0")}
    linear_all = next(float(r["value"]) for r in rows if r["evaluator"] == "linear" and r["fraction"] == "1.0")
    assert linear_all > 0.25  # 10 classes: random-init features are far better than chance on EuroSAT


@pytest.mark.realdata
def test_semi_supervised_fine_tuning_on_real_eurosat_jpegs(capsys, shared_data, tmp_path):
    """FixMatch end to end on real tiles: the pool is the slice's unlabelled remainder (never the test)."""
    splits = shared_data / "eurosat_rgb_splits"
    (tmp_path / "classes.txt").write_text((splits / "classes.txt").read_text())
    for name, n in (("train", 200), ("test", 50)):
        lines = (splits / f"{name}.txt").read_text().splitlines()[:n]
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "semisup"
    code = main(["-q", "label-efficiency", "--data", str(shared_data / "eurosat_rgb"),
                 "--labels", str(tmp_path / "train.txt"), "--test-labels", str(tmp_path / "test.txt"),
                 "--backbone", "random", "--arch", "byol_tiny_cnn", "--recipe", "satellite_rgb", "--image-size",
                 "32", "--fractions", "0.25", "--seeds", "1", "--evaluators", "finetune", "--semi-supervised",
                 "--semisup-mu", "2", "--epochs", "1", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    with (out / "selected.csv").open() as f:
        selected = {r["name"]: float(r["value"]) for r in csv.DictReader(f) if r["evaluator"] == "semisup"}
    assert selected["unlabeled_images"] == 200 - 50  # 25 % of 200 labelled (stratified per class)
    with (out / "results.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["metric"] == "accuracy"]
    assert {r["evaluator"] for r in rows} == {"finetune", "semisup"}
