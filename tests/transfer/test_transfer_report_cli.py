"""`byol-transfer report`: the report and plot a sweep writes, regenerated from results.csv files alone."""

import pytest
from PIL import Image

from byol_transfer.cli import main
from byol_transfer.transfer.report import ResultRow, read_results, render_report, write_results


def _rows(init: str, base: float) -> list[ResultRow]:
    return [ResultRow(init, "linear", f, int(f * 1000), seed, "accuracy", base + f / 10 + seed / 100)
            for f in (0.01, 0.1) for seed in (0, 1)]


def test_report_of_one_csv_equals_what_the_sweep_renders(tmp_path, capsys):
    csv = write_results(_rows("BYOL", 0.5) + _rows("random", 0.3), tmp_path / "results.csv")
    assert main(["-q", "report", str(csv), "--out", str(tmp_path / "out"), "--title", "T"]) == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert text == render_report(read_results(csv), "T", [f"Sources: `{csv}`."])
    assert "| BYOL | **50.6 ± 0.7** | **51.5 ± 0.7** |" in text and "| random | 30.6 ± 0.7 |" in text
    assert Image.open(tmp_path / "out" / "label_efficiency.png").size[0] > 300


def test_report_combines_files_and_refuses_a_result_held_twice(tmp_path, capsys):
    a = write_results(_rows("BYOL", 0.5), tmp_path / "a" / "results.csv")
    b = write_results(_rows("random", 0.3), tmp_path / "b" / "results.csv")
    assert main(["-q", "report", str(a), str(b), "--out", str(tmp_path / "ab"), "--no-plot"]) == 0
    text = (tmp_path / "ab" / "report.md").read_text()
    assert "| BYOL |" in text and "| random |" in text
    assert not (tmp_path / "ab" / "label_efficiency.png").exists()

    capsys.readouterr()
    assert main(["-q", "report", str(a), str(a.parent / ".." / "a" / "results.csv"), "--out", str(tmp_path / "aa")]) == 2
    assert "is given twice" in capsys.readouterr().err
    clash = write_results(_rows("BYOL", 0.9), tmp_path / "c" / "results.csv")
    capsys.readouterr()
    assert main(["-q", "report", str(a), str(clash), "--out", str(tmp_path / "ac")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "both hold init 'BYOL'" in err[0] and str(clash) in err[0]
    assert not (tmp_path / "ac").exists()


@pytest.mark.parametrize("flag", ["--metrics", "--lower-is-better"])
def test_report_refuses_an_unknown_metric_before_writing(tmp_path, capsys, flag):
    csv = write_results(_rows("BYOL", 0.5), tmp_path / "results.csv")
    assert main(["-q", "report", str(csv), "--out", str(tmp_path / "out"), flag, "miou"]) == 2
    err = capsys.readouterr().err
    assert "no metric 'miou'" in err and "accuracy" in err
    assert not (tmp_path / "out").exists()
