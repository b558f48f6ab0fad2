"""docs/benchmarks.md includes vs_peers.md, which must be what the committed vs_peers.csv renders to."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import vs_peers  # noqa: E402

COMMITTED = REPO / "docs" / "results" / "vs_peers"
ROW = {"format": "nchw", "precision": "fp32", "channels": "3", "mode": "model", "library": "lightly",
       "img_per_s": "41.2", "min_max": "39.0–43.1", "vs_fastest_peer": "1.00", "note": ""}


def write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "vs_peers.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=vs_peers.HEADER)
        writer.writeheader()
        writer.writerows(rows)
    (folder / "vs_peers.md").write_text(vs_peers.render_table(vs_peers.read_rows(folder / "vs_peers.csv")))


def test_rendered_table_passes_and_an_edited_number_fails(tmp_path: Path):
    write(tmp_path, [ROW, {**ROW, "library": "byol-transfer", "img_per_s": "44.0", "vs_fastest_peer": "1.07"}])
    table = (tmp_path / "vs_peers.md").read_text()
    assert "| nchw | fp32 | 3 | model | byol-transfer | 44.0 | 39.0–43.1 | 1.07 |  |" in table
    assert vs_peers.check(tmp_path) == []
    (tmp_path / "vs_peers.md").write_text(table.replace("44.0", "48.0"))
    assert vs_peers.check(tmp_path) and "differs" in vs_peers.check(tmp_path)[0]


@pytest.mark.skipif(not (COMMITTED / "vs_peers.csv").is_file(), reason="not yet published")
def test_committed_table_matches_its_csv():
    assert vs_peers.check(COMMITTED) == []
