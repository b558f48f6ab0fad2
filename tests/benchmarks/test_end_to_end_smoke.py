"""benchmarks/end_to_end.py with tiny settings: every pipeline runs on a folder of JPEGs and is reported."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
from PIL import Image

PEERS = {"lightly": "lightly", "byol-pytorch": "byol_pytorch"}


def test_end_to_end_runs_every_pipeline(tmp_path, run_benchmark, read_csv):
    rng = np.random.default_rng(0)
    data = tmp_path / "jpegs"
    for label in ("Forest", "River"):
        (data / label).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(data / label / f"{i}.jpg")
    out = tmp_path / "out"
    result = run_benchmark("end_to_end.py", "--data", str(data), "--image-size", "32", "--batch-size", "4",
                           "--steps", "1", "--warmup", "1", "--rounds", "1", "--workers", "1", "--threads", "1",
                           "--device", "cpu", "--out", str(out))
    rows = {r["variant"]: r for r in read_csv(out / "end_to_end.csv")}
    for ours in ("byol-transfer", "byol-transfer, no cache", "byol-transfer, views in workers",
                 "byol-transfer, channels_last (option)"):
        assert float(rows[ours]["img_per_s"]) > 0, rows
    for peer, module in PEERS.items():
        if importlib.util.find_spec(module) is None:
            assert peer not in rows and f"skipped {peer}: not installed" in result.stdout
        else:
            assert float(rows[peer]["img_per_s"]) > 0
            assert rows["byol-transfer"][f"vs {peer}"].endswith("x")
    log = json.loads((out / "run.json").read_text())
    assert log["images"] == 24 and log["cached"] is True
    assert log["machine"]["cpu_model"] and "cpu_flags" in log["machine"]
    assert set(log["rates_per_round"]) == set(rows) and all(len(v) == 1 for v in log["rates_per_round"].values())
    assert "cache vs reading files" in result.stdout
