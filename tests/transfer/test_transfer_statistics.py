"""The statistics of a sweep end to end: interval and paired-difference rows in results.csv, the per-image
predictions they come from (predictions.npz), and the report's best-baseline and margin rows."""

from __future__ import annotations

import csv
import math
import shutil

import numpy as np
import pytest
import torch

from byol_transfer.cli import main
from byol_transfer.transfer.metrics import metrics_from_counts
from byol_transfer.transfer.predictions import load_predictions
from byol_transfer.transfer.report import (LEGACY_COLUMNS, RESULT_COLUMNS, ResultRow, read_results, render_report,
                                           write_results)


def read_rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture
def classification_run(capsys, labelled_folder, tiny_export, tmp_path):
    data = tmp_path / "digits"
    shutil.move(labelled_folder(8), data / "train")
    shutil.move(labelled_folder(6, seed=1), data / "test")
    out = tmp_path / "le"
    code = main(["-q", "label-efficiency", "--data", str(data), "--backbone", f"BYOL={tiny_export}", "random=random",
                 "--fractions", "0.5", "1.0", "--seeds", "2", "--evaluators", "knn,linear", "--no-progress",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    return out


def test_sweep_writes_intervals_differences_and_predictions(classification_run):
    out = classification_run
    rows = read_rows(out / "results.csv")
    assert tuple(rows[0]) == RESULT_COLUMNS and RESULT_COLUMNS[-1] == "init_kind"
    assert {(r["init"], r["init_kind"]) for r in rows} == {("BYOL", "pretrained"), ("random", "baseline")}
    seeds = [r for r in rows if r["seed"] != "all"]
    stats = [r for r in rows if r["seed"] == "all"]
    assert seeds == rows[:len(seeds)]  # statistics rows come after every seed row
    assert {r["metric"] for r in stats} == {f"{m}.{s}" for m in ("accuracy", "auroc")
                                             for s in ("ci_low", "ci_high", "diff_vs_best_baseline",
                                                       "diff_ci_low", "diff_ci_high")}
    cells = {(r["init"], r["evaluator"], r["fraction"]) for r in seeds}
    assert len(cells) == 2 * 2 * 2
    value = {(r["init"], r["evaluator"], r["fraction"], r["metric"]): float(r["value"]) for r in stats}
    widths = []
    for init, evaluator, fraction in cells:
        for metric in ("accuracy", "auroc"):
            mean = np.mean([float(r["value"]) for r in seeds if (r["init"], r["evaluator"], r["fraction"],
                                                                r["metric"]) == (init, evaluator, fraction, metric)])
            low, high = value[(init, evaluator, fraction, f"{metric}.ci_low")], value[
                (init, evaluator, fraction, f"{metric}.ci_high")]
            assert low <= mean + 1e-12 and mean <= high + 1e-12
            widths.append(high - low)
            diff = (init, evaluator, fraction, f"{metric}.diff_vs_best_baseline")
            if init == "random":  # the only baseline: no difference from itself
                assert diff not in value
                continue
            base = np.mean([float(r["value"]) for r in seeds if (r["init"], r["evaluator"], r["fraction"],
                                                                r["metric"]) == ("random", evaluator, fraction, metric)])
            assert value[diff] == pytest.approx(mean - base, abs=1e-12)
            assert value[diff[:3] + (f"{metric}.diff_ci_low",)] <= value[diff] <= value[diff[:3] + (
                f"{metric}.diff_ci_high",)]

    assert max(widths) > 0.1  # 12 test images: a real interval (a perfect cell has a zero-width one)

    # per seed, the saved predictions recompute the reported accuracy exactly
    saved = load_predictions(out / "predictions.npz")
    labels = saved.test["labels"]
    assert len(labels) == 12
    accuracy = [r for r in seeds if r["metric"] == "accuracy"]
    assert len(accuracy) == 16
    for r in accuracy:
        cell = saved.get(r["init"], r["evaluator"], float(r["fraction"]), int(r["seed"]))
        assert cell["scores"].shape == (12, 2)
        assert float(np.mean(cell["predicted"] == labels)) == float(r["value"])

    report = (out / "report.md").read_text()
    assert "| *best baseline* |" in report and "(`random`)" in report
    assert "| *BYOL − best baseline* |" in report
    margins = next(line for line in report.splitlines() if line.startswith("| *BYOL − best baseline*"))
    assert all(("[" in c and "]" in c) or "(within noise)" in c for c in margins.split("|")[2:-1])
    assert "## accuracy.ci_low" not in report and "[" in report.split("| BYOL |")[1].splitlines()[0]

    # `byol-transfer report` from the CSV alone renders the same tables
    assert main(["-q", "report", str(out / "results.csv"), "--out", str(out / "again"), "--no-plot"]) == 0
    again = (out / "again" / "report.md").read_text()
    assert again.split("## accuracy", 1)[1] == report.split("## accuracy", 1)[1]


def _rows(with_stats: bool, kind: bool = True):
    rows = []
    for init, base in (("random", 0.6), ("kaiming", 0.65), ("byol", 0.7)):
        for seed in (0, 1):
            rows.append(ResultRow(init, "linear", 0.1, 10, seed, "accuracy", base + seed / 100,
                                  ("baseline" if init != "byol" else "pretrained") if kind else ""))
    if with_stats:
        rows += [ResultRow("byol", "linear", 0.1, 10, "all", "accuracy.diff_vs_best_baseline", 0.05, "pretrained"),
                 ResultRow("byol", "linear", 0.1, 10, "all", "accuracy.diff_ci_low", 0.01, "pretrained"),
                 ResultRow("byol", "linear", 0.1, 10, "all", "accuracy.diff_ci_high", 0.09, "pretrained"),
                 ResultRow("byol", "linear", 0.1, 10, "all", "accuracy.ci_low", 0.6, "pretrained"),
                 ResultRow("byol", "linear", 0.1, 10, "all", "accuracy.ci_high", 0.8, "pretrained")]
    return rows


def test_report_best_baseline_margin_and_within_noise(tmp_path):
    text = render_report(_rows(True))
    assert "| byol | **70.5 ± 0.7 [60.0, 80.0]** |" in text
    assert "| *best baseline* | 65.5 ± 0.7 (`kaiming`) |" in text
    assert "| *byol − best baseline* | +5.0 [+1.0, +9.0] |" in text
    assert "over 2 seed(s)" in text  # the seed "all" is not counted
    rows = _rows(True)
    rows[-4] = ResultRow("byol", "linear", 0.1, 10, "all", "accuracy.diff_ci_low", -0.01, "pretrained")
    assert "| *byol − best baseline* | +5.0 (within noise) |" in render_report(rows)
    # a stored difference against another baseline (files combined) is not shown as this margin's interval
    stale = [r if r.metric != "accuracy.diff_vs_best_baseline" else ResultRow(*[*vars(r).values()][:6], 0.1,
                                                                             "pretrained") for r in _rows(True)]
    assert "| *byol − best baseline* | +5.0 (no interval) |" in render_report(stale)
    # round trip through results.csv, the seed "all" included
    write_results(rows, tmp_path / "r.csv")
    assert read_results(tmp_path / "r.csv") == rows


def test_old_results_without_init_kind_still_render(tmp_path):
    path = tmp_path / "old.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(LEGACY_COLUMNS)
        for r in _rows(False, kind=False):
            writer.writerow([r.init, r.evaluator, repr(r.fraction), r.n_labels, r.seed, r.metric, repr(r.value)])
    rows = read_results(path)
    assert {(r.init, r.init_kind) for r in rows} == {("random", "baseline"), ("kaiming", "baseline"),
                                                     ("byol", "pretrained")}
    text = render_report(rows)
    assert "| *best baseline* | 65.5 ± 0.7 (`kaiming`) |" in text
    assert "| *byol − best baseline* | +5.0 (no interval) |" in text
    assert main(["-q", "report", str(path), "--out", str(tmp_path / "rep")]) == 0
    assert "*best baseline*" in (tmp_path / "rep" / "report.md").read_text()


def test_unknown_init_kind_is_refused(tmp_path):
    from byol_transfer.errors import UserError

    path = tmp_path / "bad.csv"
    path.write_text(",".join(RESULT_COLUMNS) + "\nbyol,linear,0.1,10,0,accuracy,0.5,pretrianed\n")
    with pytest.raises(UserError, match="init_kind"):
        read_results(path)


def test_segment_writes_miou_intervals(seg_write, tmp_path):
    data = seg_write.seg_folder(tmp_path / "data", 12, channels=4, size=32)
    export, _ = seg_write.export(tmp_path / "byol.safetensors", "resnet18", 4)
    out = tmp_path / "out"
    assert main(["-q", "segment", "--data", str(data), "--backbone", f"byol={export}", "random", "--arch", "unet",
                 "--epochs", "1", "--fractions", "1.0", "--seeds", "2", "--min-epoch-samples", "0",
                 "--batch-size", "4", "--out", str(out), "--no-progress"]) == 0
    rows = read_rows(out / "results.csv")
    stats = {(r["init"], r["metric"]): float(r["value"]) for r in rows if r["seed"] == "all"}
    assert set(stats) == {("byol", "mIoU.ci_low"), ("byol", "mIoU.ci_high"), ("random", "mIoU.ci_low"),
                          ("random", "mIoU.ci_high"), ("byol", "mIoU.diff_vs_best_baseline"),
                          ("byol", "mIoU.diff_ci_low"), ("byol", "mIoU.diff_ci_high")}
    for init in ("byol", "random"):
        mean = np.mean([float(r["value"]) for r in rows if (r["init"], r["metric"]) == (init, "mIoU")
                        and r["seed"] != "all"])
        assert stats[(init, "mIoU.ci_low")] <= mean <= stats[(init, "mIoU.ci_high")]
    saved = load_predictions(out / "predictions.npz")
    counts = saved.get("byol", "unet-finetune", 1.0, 0)["counts"]
    assert counts.shape == (2, 2, 4)  # 2 test images × 2 classes × (tp, fp, fn, tn)
    reported = next(float(r["value"]) for r in rows if (r["init"], r["seed"], r["metric"]) == ("byol", "0", "mIoU"))
    assert metrics_from_counts(torch.as_tensor(counts.sum(0).T), ["class_0", "class_1"])["mIoU"] == reported
    tp, fp, fn = (counts.sum(0)[:, i] for i in range(3))  # and by hand, in float64 (smp: float32)
    assert np.nanmean(np.where(tp + fp + fn > 0, tp / np.maximum(tp + fp + fn, 1), np.nan)) == pytest.approx(
        reported, rel=1e-6)
    means = {init: np.mean([float(r["value"]) for r in rows if (r["init"], r["metric"]) == (init, "mIoU")
                            and r["seed"] != "all"]) for init in ("byol", "random")}
    assert stats[("byol", "mIoU.diff_vs_best_baseline")] == pytest.approx(means["byol"] - means["random"], abs=1e-12)
    report = (out / "report.md").read_text()
    assert "*best baseline*" in report and "*byol − best baseline*" in report
    assert not math.isnan(stats[("byol", "mIoU.diff_vs_best_baseline")])


def test_statistics_rows_pair_with_the_best_baseline_on_shared_draws():
    from byol_transfer.transfer.intervals import accuracy
    from byol_transfer.transfer.predictions import Predictions
    from byol_transfer.transfer.statistics import statistics_rows

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    right = {"random": 0.6, "kaiming": 0.7, "byol": 0.75}  # how often each init predicts the label
    predictions, rows = Predictions({"labels": labels}), []
    predicted = {}
    for init, p in right.items():
        for seed in (0, 1):
            guess = np.where(rng.random(200) < p, labels, 1 - labels)
            if init == "byol" and seed == 0:
                guess = predicted[("kaiming", 0)]  # identical to the best baseline on this seed
            predicted[(init, seed)] = guess
            predictions.add(init, "linear", 0.1, seed, {"predicted": guess})
            rows.append(ResultRow(init, "linear", 0.1, 10, seed, "accuracy", float(np.mean(guess == labels))))
    out = statistics_rows(rows, predictions, {"accuracy": lambda seeds, test: accuracy(
        test["labels"], [s["predicted"] for s in seeds])})
    value = {(r.init, r.metric): r.value for r in out}
    assert {r.seed for r in out} == {"all"} and {r.init for r in out if "diff" in r.metric} == {"byol"}
    mean = {i: np.mean([r.value for r in rows if r.init == i]) for i in right}
    assert value[("byol", "accuracy.diff_vs_best_baseline")] == pytest.approx(mean["byol"] - mean["kaiming"], abs=1e-12)
    assert value[("byol", "accuracy.diff_ci_low")] < value[("byol", "accuracy.diff_vs_best_baseline")] < value[
        ("byol", "accuracy.diff_ci_high")]
    assert value[("kaiming", "accuracy.ci_low")] < mean["kaiming"] < value[("kaiming", "accuracy.ci_high")]

    # identical predictions: a difference of exactly 0 with a zero-width interval, within noise
    same = Predictions({"labels": labels})
    for init in ("random", "byol"):
        same.add(init, "linear", 0.1, 0, {"predicted": predicted[("kaiming", 0)]})
    rows = [ResultRow(i, "linear", 0.1, 10, 0, "accuracy", 0.7) for i in ("random", "byol")]
    out = statistics_rows(rows, same, {"accuracy": lambda seeds, test: accuracy(
        test["labels"], [s["predicted"] for s in seeds])})
    value = {r.metric: r.value for r in out if r.init == "byol"}
    assert value["accuracy.diff_vs_best_baseline"] == value["accuracy.diff_ci_low"] == value[
        "accuracy.diff_ci_high"] == 0.0
