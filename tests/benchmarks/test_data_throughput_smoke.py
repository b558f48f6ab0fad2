"""benchmarks/data_throughput.py with tiny settings: all four sources, the GPU-rate lines and the RSS trace."""

from __future__ import annotations

import json


def test_data_throughput_reports_every_source(tmp_path, run_benchmark, read_csv):
    out = tmp_path / "out"
    result = run_benchmark("data_throughput.py", "--tiles", "16", "--scene", "256", "--rounds", "1",
                           "--patches", "32", "--memory-samples", "64", "--memory-passes", "2",
                           "--memory-workers", "1", "--tmp", str(tmp_path), "--out", str(out))
    rows = read_csv(out / "data_throughput.csv")
    sources = [r["source"] for r in rows]
    for expected in ("webdataset shards", "separate GeoTIFF tiles", "scene windows", "in-memory cache"):
        assert any(s.startswith(expected) for s in sources), sources
    assert all(float(r["patches/s (1 core)"].replace(",", "")) > 0 for r in rows)
    tiles = next(r for r in rows if r["source"].startswith("separate GeoTIFF tiles"))
    assert tiles["vs separate tiles"] == "1.0x"
    assert "shards / separate tiles:" in result.stdout and "data wait with those workers:" in result.stdout
    log = json.loads((out / "run.json").read_text())
    memory = log["memory"][0]
    assert memory["passes"] == 2 and memory["samples"] == 64 and memory["bound_mib"] > 0
    # one RSS sample per batch: 2 passes of 64 samples in batches of up to 128
    assert memory["trace"] and all(main > 0 for _, main, _ in memory["trace"])
