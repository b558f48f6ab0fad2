"""docs/results/view_batchnorm/table.md is rendered from its committed curves.csv; an edit fails the check."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import view_batchnorm_table  # noqa: E402

COMMITTED = REPO / "docs" / "results" / "view_batchnorm"


def fake_run(root: Path, mode: str, losses: list[float], knn: dict[int, float]) -> Path:
    run = root / mode
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"model": {"view_batchnorm": mode}}))
    lines = ["step,loss,knn_acc"] + [f"{10 * (i + 1)},{loss},{knn.get(10 * (i + 1), '')}"
                                     for i, loss in enumerate(losses)]
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    return run


def test_table_of_two_runs_and_its_check(tmp_path: Path):
    joint = fake_run(tmp_path, "joint", [2.0, 1.5, 1.0, 0.8], {20: 0.4, 40: 0.5})
    separate = fake_run(tmp_path, "separate", [2.0, 1.6, 1.2, 1.0], {20: 0.45, 40: 0.55})
    out = tmp_path / "out"
    assert view_batchnorm_table.main(["--runs", str(joint), str(separate), "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    # the last quarter of 40 steps is steps 30-40: mean of the last two losses
    assert "| joint | 40.0 | 50.0 | 0.900 |" in table
    assert "| separate | 45.0 | 55.0 | 1.100 |" in table
    assert (out / "curves.png").stat().st_size > 0
    assert view_batchnorm_table.main(["--check", "--out", str(out)]) == 0
    (out / "table.md").write_text(table.replace("55.0", "57.0"))
    assert view_batchnorm_table.main(["--check", "--out", str(out)]) == 1


@pytest.mark.skipif(not (COMMITTED / "curves.csv").is_file(), reason="not yet published")
def test_committed_table_matches_its_curves():
    assert view_batchnorm_table.main(["--check", "--out", str(COMMITTED)]) == 0
