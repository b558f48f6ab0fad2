"""``byol-transfer label-efficiency`` end to end on tiny PNG and GeoTIFF folders written into tmp_path."""

import csv
import json
import shutil

from byol_transfer.cli import main

# a recipe file for 4-band uint16 tiles: its scaling/normalisation is what random init is fed
MULTIBAND_RECIPE = """\
name: test_multiband
channels: {count: any}
scaling: {kind: divide, value: 10000}
normalize: {mean: [0.5], std: [0.25]}
view1: [{op: horizontal_flip, p: 0.5}]
view2: [{op: horizontal_flip, p: 0.5}]
"""


def run_cli(capsys, *args):
    code = main(["-q", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def read_rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_png_folder_with_train_and_test_byol_vs_random(capsys, labelled_folder, tiny_export, tmp_path):
    data = tmp_path / "digits"
    shutil.move(labelled_folder(8), data / "train")
    shutil.move(labelled_folder(4, seed=1), data / "test")
    out = tmp_path / "le"
    args = ["label-efficiency", "--data", data, "--backbone", f"BYOL={tiny_export}", "random=random",
            "--fractions", "0.25", "1.0", "--seeds", "2", "--evaluators", "knn,linear,finetune",
            "--epochs", "1", "--batch-size", "64", "--no-progress", "--out", out]
    code, stdout, err = run_cli(capsys, *args)
    assert code == 0, err
    assert {"results.csv", "report.md", "label_efficiency.png", "splits.json", "selected.csv", "run.json"} <= {
        p.name for p in out.iterdir()}
    rows = read_rows(out / "results.csv")
    assert list(rows[0]) == ["init", "evaluator", "fraction", "n_labels", "seed", "metric", "value"]
    # 2 inits × 2 seeds × 2 fractions × 3 evaluators × 4 metrics
    assert len(rows) == 96
    assert {r["evaluator"] for r in rows} == {"knn@20", "linear", "finetune"}
    assert {(r["fraction"], r["n_labels"]) for r in rows} == {("0.25", "4"), ("1.0", "16")}
    report = (out / "report.md").read_text()
    assert "| BYOL |" in report and "| random |" in report and "±" in report and "**" in report
    splits = json.loads((out / "splits.json").read_text())
    assert splits["test"]["source"] == "test-data" and set(splits["subsets"]) == {"0", "1"}
    run = json.loads((out / "run.json").read_text())
    assert run["test"]["items"] == 8 and [i["name"] for i in run["inits"]] == ["BYOL", "random"]

    # repeating the frozen-feature part reuses splits.json and the feature cache: identical numbers
    frozen = [r for r in rows if r["evaluator"] != "finetune"]
    args[args.index("knn,linear,finetune")] = "knn,linear"
    assert run_cli(capsys, *args)[0] == 0
    assert read_rows(out / "results.csv") == frozen


def test_geotiff_folder_with_holdout_and_recipe_file(capsys, labelled_folder, tmp_path):
    data = labelled_folder(6, channels=4, num_classes=3)
    recipe = tmp_path / "multiband.yaml"
    recipe.write_text(MULTIBAND_RECIPE)
    out = tmp_path / "le"
    code, stdout, err = run_cli(capsys, "label-efficiency", "--data", data, "--backbone", "random",
                                "--arch", "byol_tiny_cnn", "--recipe", recipe, "--fractions", "0.5", "1",
                                "--seeds", "1", "--evaluators", "knn,linear", "--knn-k", "1", "3",
                                "--no-progress", "--out", out)
    assert code == 0, err
    rows = read_rows(out / "results.csv")
    assert {r["evaluator"] for r in rows} == {"knn@1", "knn@3", "linear"}
    splits = json.loads((out / "splits.json").read_text())
    assert splits["test"]["source"] == "holdout" and len(splits["test"]["indices"]) == 3  # 1 per class
    assert (out / "label_efficiency.png").stat().st_size > 0


def test_wrong_channel_count_between_weights_and_data_is_one_clear_line(capsys, labelled_folder, tiny_export,
                                                                        tmp_path):
    data = labelled_folder(3, channels=4)
    code, _, err = run_cli(capsys, "label-efficiency", "--data", data, "--backbone", f"BYOL={tiny_export}",
                           "--no-progress", "--out", tmp_path / "le")
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "expects 1-channel images but the data have 4 channel(s)" in lines[0]
