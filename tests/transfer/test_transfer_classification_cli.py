"""``byol-transfer label-efficiency`` end to end on tiny PNG and GeoTIFF folders written into tmp_path,
with and without ``--semi-supervised``."""

import csv
import json
import shutil

import pytest
import torch

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
    assert list(rows[0]) == ["init", "evaluator", "fraction", "n_labels", "seed", "metric", "value", "init_kind"]
    # 2 inits × 2 seeds × 2 fractions × 3 evaluators × 4 metrics, then the statistics rows (seed "all")
    assert len([r for r in rows if r["seed"] != "all"]) == 96
    assert {r["evaluator"] for r in rows} == {"knn@20", "linear", "finetune"}
    assert {(r["fraction"], r["n_labels"]) for r in rows} == {("0.25", "4"), ("1.0", "16")}
    report = (out / "report.md").read_text()
    assert "| BYOL |" in report and "| random |" in report and "±" in report and "**" in report
    splits = json.loads((out / "splits.json").read_text())
    assert splits["test"]["source"] == "test-data" and set(splits["subsets"]) == {"0", "1"}
    run = json.loads((out / "run.json").read_text())
    assert run["test"]["items"] == 8 and [i["name"] for i in run["inits"]] == ["BYOL", "random"]
    from byol_transfer.machine import cpu_model_and_flags

    assert run["machine"]["cpu_model"] == cpu_model_and_flags()[0] and "cpu_native_bf16" in run["machine"]

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
    assert len(lines) == 1 and "the weights take 1 band(s) (no names), the data have 4 band(s) (no names)" in lines[0]
    assert "--band-map" in lines[0] and not (tmp_path / "le").exists()

def test_semi_supervised_adds_semisup_rows_with_the_held_out_images_as_pool(capsys, labelled_folder, tiny_export,
                                                                            tmp_path):
    data = tmp_path / "digits"
    shutil.move(labelled_folder(10), data / "train")
    shutil.move(labelled_folder(4, seed=1), data / "test")
    out = tmp_path / "le"
    code, _, err = run_cli(capsys, "label-efficiency", "--data", data, "--backbone", f"BYOL={tiny_export}",
                           "random=random", "--fractions", "0.5", "--seeds", "1", "--evaluators", "finetune",
                           "--semi-supervised", "--semisup-mu", "2", "--semisup-threshold", "0.5", "--epochs", "1",
                           "--batch-size", "4", "--no-progress", "--out", out)
    assert code == 0, err
    rows = read_rows(out / "results.csv")
    assert {r["evaluator"] for r in rows} == {"finetune", "semisup"}
    assert {r["init"] for r in rows if r["evaluator"] == "semisup"} == {"BYOL", "random"}
    selected = [r for r in read_rows(out / "selected.csv") if r["evaluator"] == "semisup"]
    values = {(r["init"], r["name"]): float(r["value"]) for r in selected}
    # 20 training images, 10 of them labelled (50 %): the other 10 are the unlabelled pool
    assert values[("BYOL", "unlabeled_images")] == 10.0
    assert values[("BYOL", "mu")] == 2.0 and values[("BYOL", "threshold")] == 0.5
    assert 0.0 <= values[("BYOL", "pseudo_label_rate")] <= 1.0
    report = (out / "report.md").read_text()
    assert "semisup · 50%" in report and "FixMatch" in report
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["evaluators"]["semisup"]["fixmatch"]["mu"] == 2


def test_unlabeled_data_folder_is_the_pool(capsys, labelled_folder, image_folder, tmp_path):
    data = labelled_folder(6)
    pool = image_folder(n=7, channels=1, size=16)
    out = tmp_path / "le"
    code, _, err = run_cli(capsys, "label-efficiency", "--data", data, "--backbone", "random", "--arch",
                           "byol_tiny_cnn", "--recipe", "grayscale", "--fractions", "1", "--seeds", "1",
                           "--evaluators", "semisup", "--unlabeled-data", pool, "--epochs", "1", "--batch-size",
                           "4", "--no-progress", "--out", out)
    assert code == 0, err
    values = {r["name"]: float(r["value"]) for r in read_rows(out / "selected.csv")}
    assert values["unlabeled_images"] == 7.0  # the folder, not the (empty at 100 %) held-out remainder
    assert "7 images from" in (out / "report.md").read_text()


def test_semisup_leaves_the_global_rng_and_the_backbone_as_they_were(labelled_folder):
    from byol_transfer.augment.recipes import load_recipe
    from byol_transfer.data.build import build_dataset
    from byol_transfer.features.cache import state_fingerprint
    from byol_transfer.features.labelled import LabelledData
    from byol_transfer.semisup import FixMatchSettings
    from byol_transfer.transfer.evaluators import CLASSIFICATION
    from byol_transfer.transfer.evaluators.finetune import FinetuneSettings
    from byol_transfer.transfer.evaluators.semisup import SemisupSettings
    from byol_transfer.transfer.inits import build_inits
    from byol_transfer.transfer.splits import plan_splits
    from byol_transfer.transfer.tasks.classification import ClassificationTask

    data = LabelledData.from_dataset(build_dataset(labelled_folder(6), 16, labeled=True))
    init = build_inits(["random"], 1, "byol_tiny_cnn", "grayscale")[0]
    task = ClassificationTask(data, recipe=load_recipe("grayscale"))
    task.bind(plan_splits(data.labels, data.digest(), [0.5], [0], test_digest=None))
    train, val = task.plan.subset(0, 0.5)
    cell = task.cell(init, task.prepare(init), 0, 0.5, train, val)
    assert len(task.unlabeled_images(cell.subset_idx)) > 0  # a real pool: FixMatch runs
    semisup = CLASSIFICATION.get("semisup")
    settings = SemisupSettings(FixMatchSettings(mu=2), FinetuneSettings(epochs=1, batch_size=4))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = semisup.run(cell, settings)["semisup"]
    assert torch.equal(torch.rand(3), expected)
    assert state_fingerprint(init.backbone) == init.weights_hash
    second = semisup.run(cell, settings)["semisup"]  # seeded per cell: the same results again
    assert first.metrics == second.metrics and first.selected == second.selected


@pytest.mark.parametrize("extra, message", [
    (["--unlabeled-data", "somewhere"], "--unlabeled-data is used by semi-supervised fine-tuning"),
    (["--semi-supervised", "--semisup-mu", "0"], "mu (unlabelled per labelled image) must be at least 1"),
    (["--semi-supervised", "--semisup-threshold", "1.5"], "threshold must lie in [0, 1], got 1.5"),
])
def test_bad_semi_supervised_settings_are_one_clear_line(capsys, labelled_folder, tmp_path, extra, message):
    out = tmp_path / "le"
    code, _, err = run_cli(capsys, "label-efficiency", "--data", labelled_folder(4), "--backbone", "random",
                           "--arch", "byol_tiny_cnn", "--recipe", "grayscale", "--evaluators", "finetune",
                           "--no-progress", "--out", out, *extra)
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (out / "results.csv").exists()
