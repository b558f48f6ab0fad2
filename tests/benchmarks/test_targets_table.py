"""docs/results/targets/table.md: each pay-off target judged from the paired differences in a results.csv."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import targets_table  # noqa: E402
from targets_table import Target  # noqa: E402

HEADER = "init,evaluator,fraction,n_labels,seed,metric,value,init_kind\n"


def margin_rows(init: str, evaluator: str, fraction: float, metric: str, diff: float, low: float, high: float) -> str:
    return "".join(f"{init},{evaluator},{fraction},10,all,{metric}.{name},{value},pretrained\n"
                   for name, value in (("diff_vs_best_baseline", diff), ("diff_ci_low", low), ("diff_ci_high", high)))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / "results.csv").write_text(
        HEADER
        # a row of another init and of a plain accuracy must not be read as the margin
        + "BYOL,knn@20,0.01,10,0,accuracy,0.9,pretrained\n"
        + margin_rows("other", "knn@20", 0.01, "accuracy", 0.5, 0.4, 0.6)
        + margin_rows("BYOL", "knn@20", 0.01, "accuracy", 0.12, 0.08, 0.16)    # met: +12 >= +10, above 0
        + margin_rows("BYOL", "knn@20", 0.1, "accuracy", 0.04, 0.01, 0.07)     # milestone: above 0, 6 short
        + margin_rows("BYOL", "linear", 0.01, "accuracy", -0.05, -0.08, -0.02)  # behind: interval below 0
        + margin_rows("BYOL", "linear", 0.1, "accuracy", 0.01, -0.02, 0.04))   # within noise
    return tmp_path


TARGET = Target("Set", "exp", "BYOL", "recipe, 1 min", "accuracy",
                (("knn@20", 0.01), ("knn@20", 0.1), ("linear", 0.01), ("linear", 0.1), ("linear", 1.0)), 10.0)


def test_each_cell_gets_its_verdict_from_the_margin_and_its_interval(results: Path):
    rows = {line.split(" | ")[3]: line for line in targets_table.render(results, (TARGET,)).splitlines()[2:]}
    assert rows["knn@20 · 1 %"].endswith("| +12.0 [+8.0, +16.0] | **met** |")
    assert rows["knn@20 · 10 %"].endswith("| +4.0 [+1.0, +7.0] | milestone (interval above 0); 6.0 short of +10 |")
    assert rows["linear · 1 %"].endswith("| -5.0 [-8.0, -2.0] | missed by 15.0 (behind the best baseline) |")
    assert rows["linear · 10 %"].endswith("| +1.0 [-2.0, +4.0] | missed by 9.0 (within noise) |")
    assert rows["linear · 100 %"].endswith("| – | not measured |")
    assert rows["linear · 1 %"].startswith("| Set | recipe, 1 min | accuracy |")


def test_a_margin_at_the_target_but_with_an_interval_reaching_0_is_not_met():
    assert targets_table.verdict(0.11, -0.01, 0.23, 10.0) == "not met: the margin is reached but its interval reaches 0"
    assert targets_table.verdict(0.10, 0.001, 0.2, 10.0) == "**met**"


def test_a_folder_not_yet_published_reads_not_measured(tmp_path: Path):
    table = targets_table.render(tmp_path, (TARGET,))
    assert table.count("| – | not measured |") == len(TARGET.cells)


def test_check_passes_on_the_written_table_and_fails_on_an_edit(results: Path, monkeypatch, capsys):
    monkeypatch.setattr(targets_table, "TARGETS", (TARGET,))
    out = results / "table.md"
    assert targets_table.main(["--results", str(results), "--out", str(out)]) == 0
    assert targets_table.main(["--check", "--results", str(results), "--out", str(out)]) == 0
    out.write_text(out.read_text().replace("+12.0", "+13.0"))
    assert targets_table.main(["--check", "--results", str(results), "--out", str(out)]) == 1
    assert f"{out}:3:" in capsys.readouterr().err


def test_every_target_names_a_cell_its_experiment_writes():
    # the evaluators and fractions the rerun script's label-efficiency / segment commands produce
    for target in targets_table.TARGETS:
        for evaluator, fraction in target.cells:
            assert evaluator in {"knn@20", "linear", "unet-finetune"}, (target.name, evaluator)
            assert 0 < fraction <= 1, (target.name, fraction)


@pytest.mark.skipif(not (targets_table.OUT).is_file(), reason="not yet published")
def test_committed_targets_table_matches_the_csvs():
    assert targets_table.main(["--check"]) == 0


def test_a_lever_is_the_per_seed_difference_on_the_seeds_both_arms_have(tmp_path: Path):
    for folder, rows in {"a": [("with", 0, 0.50), ("with", 1, 0.60), ("with", 2, 0.70), ("without", 0, 0.45)],
                         "b": [("without", 1, 0.40), ("without", 2, 0.80)]}.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "results.csv").write_text(HEADER + "".join(
            f"{init},linear,0.1,10,{seed},accuracy,{value},pretrained\n" for init, seed, value in rows)
            + "with,linear,0.1,10,all,accuracy.diff_vs_best_baseline,0.9,pretrained\n")
    same_folder = targets_table.Lever("S", "one folder", ("a", "with"), ("a", "without"), "accuracy",
                                      (("linear", 0.1), ("knn@20", 0.1)))
    two_folders = targets_table.Lever("S", "two folders", ("a", "with"), ("b", "without"), "accuracy",
                                      (("linear", 0.1),))
    missing = targets_table.Lever("S", "missing", ("a", "with"), ("nowhere", "without"), "accuracy",
                                  (("linear", 0.1),))
    lines = targets_table.render_levers(tmp_path, (same_folder, two_folders, missing)).splitlines()[2:]
    assert lines[0] == "| S | one folder | accuracy | linear · 10 % | +5.0 | [+5.0, +5.0] | 1 |"
    assert lines[1] == "| S | one folder | accuracy | knn@20 · 10 % | – | – | not measured |"
    # seeds 1 and 2: +20 and -10 points
    assert lines[2] == "| S | two folders | accuracy | linear · 10 % | +5.0 | [-10.0, +20.0] | 2 |"
    assert lines[3].endswith("| – | – | not measured |")
