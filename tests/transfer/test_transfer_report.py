import csv
import math

import numpy as np
import pytest

from byol_transfer.errors import UserError
from byol_transfer.transfer.metrics import classification_metrics
from byol_transfer.transfer.plots import plot_label_efficiency
from byol_transfer.transfer.report import RESULT_COLUMNS, ResultRow, read_results, render_report, write_results


def rows():
    out = []
    for init, base in (("BYOL", 0.6), ("random", 0.5)):
        for fraction, n in ((0.01, 10), (0.1, 100), (1.0, 1000)):
            for seed, jitter in enumerate((-0.02, 0.0, 0.02)):
                out.append(ResultRow(init, "linear", fraction, n, seed, "accuracy", base + fraction / 10 + jitter))
                out.append(ResultRow(init, "linear", fraction, n, seed, "auroc", math.nan if seed == 0 else 0.9))
    return out


def test_results_csv_has_the_tidy_schema_and_round_trips(tmp_path):
    path = write_results(rows(), tmp_path / "results.csv")
    with path.open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == RESULT_COLUMNS == (
            "init", "evaluator", "fraction", "n_labels", "seed", "metric", "value", "init_kind")
        first = next(reader)
    assert first == {"init": "BYOL", "evaluator": "linear", "fraction": "0.01", "n_labels": "10", "seed": "0",
                     "metric": "accuracy", "value": repr(0.6 + 0.001 - 0.02), "init_kind": "pretrained"}
    back = read_results(path)
    assert len(back) == len(rows()) and back[0] == rows()[0]
    assert math.isnan(back[1].value)


def test_read_results_refuses_another_schema(tmp_path):
    (tmp_path / "r.csv").write_text("init,value\nBYOL,1\n")
    with pytest.raises(UserError, match="expected the columns"):
        read_results(tmp_path / "r.csv")


def test_report_shows_mean_std_and_marks_the_best_init_per_column():
    text = render_report(rows(), title="T", context=["ctx line"])
    assert text.startswith("# T\n") and "ctx line" in text
    assert "| init | linear · 1% (10) | linear · 10% (100) | linear · 100% (1000) |" in text
    # mean ± sample std over the 3 seeds (values 0.581, 0.601, 0.621), in %
    assert "| BYOL | **60.1 ± 2.0** | **61.0 ± 2.0** | **70.0 ± 2.0** |" in text
    assert "| random | 50.1 ± 2.0 | 51.0 ± 2.0 | 60.0 ± 2.0 |" in text
    # undefined values (NaN) are left out of the mean; equal means are both marked best
    auroc = text.split("## auroc", 1)[1]
    assert "| BYOL | **90.0 ± 0.0** |" in auroc and "| random | **90.0 ± 0.0** |" in auroc


def test_report_with_one_seed_and_one_init_has_no_std_and_no_marks():
    text = render_report([ResultRow("random", "knn@20", 0.5, 7, 0, "dice", 0.25)], scale=1.0, digits=2)
    assert "| random | 0.25 |" in text and "**" not in text.split("## dice")[1]


def test_plot_file_is_produced(tmp_path):
    path = write_results(rows(), tmp_path / "results.csv")
    png = plot_label_efficiency(path, tmp_path / "label_efficiency.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    n_png = plot_label_efficiency(path, tmp_path / "n.png", metrics=["accuracy"], x="n_labels")
    assert n_png.is_file()
    with pytest.raises(UserError, match="no metric 'iou'"):
        plot_label_efficiency(path, tmp_path / "x.png", metrics=["iou"])


def test_metrics_binary_multiclass_and_undefined_auroc():
    y = np.array([0, 0, 1, 1])
    scores = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    m = classification_metrics(y, scores.argmax(1), scores, 2)
    assert m == {"accuracy": 1.0, "balanced_accuracy": 1.0, "macro_f1": 1.0, "auroc": 1.0}
    # 3 classes, one of them absent from the test labels: one-vs-rest over the classes present
    y3 = np.array([0, 1, 1, 0])
    s3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]])
    m3 = classification_metrics(y3, s3.argmax(1), s3, 3)
    assert m3["accuracy"] == 0.5 and 0 <= m3["auroc"] <= 1
    assert math.isnan(classification_metrics(np.array([1, 1]), np.array([1, 0]), scores[:2], 2)["auroc"])
