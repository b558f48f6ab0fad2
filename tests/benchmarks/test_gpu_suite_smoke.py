"""benchmarks/gpu_suite.py --smoke runs every section end to end on CPU and writes its tables."""

from __future__ import annotations

import json

from byol_transfer.augment.recipes import list_recipes


def test_gpu_suite_smoke_measures_every_section(tmp_path, run_benchmark, read_csv):
    result = run_benchmark("gpu_suite.py", "--smoke", "--device", "cpu", "--out", str(tmp_path))
    rows = read_csv(tmp_path / "gpu_suite.csv")
    failed = [r for r in rows if r["note"].startswith("failed")]
    assert not failed, failed
    measured = [r for r in rows if r["value"]]
    for section in ("augment", "step", "stream"):
        values = [float(r["value"]) for r in measured if r["section"] == section]
        assert values and all(v > 0 for v in values), f"no figures for section {section}: {rows}"
    augmented = {r["variant"] for r in measured if r["section"] == "augment"}
    for recipe in list_recipes():  # every recipe's two views, plus the per-image baselines
        assert any(f"ours: {recipe.name} " in v for v in augmented), (recipe.name, augmented)
    assert any(v.startswith("torchvision") for v in augmented)
    assert any(v.startswith("albumentations") for v in augmented)
    steps = {r["variant"] for r in measured if r["section"] == "step" and r["unit"] == "steps/s"}
    assert {"fp32", "channels_last", "bf16", "bf16+channels_last"} <= steps
    compile_rows = [r for r in rows if r["variant"] == "bf16+channels_last+compile"]
    assert compile_rows and all("skipped" in r["note"] for r in compile_rows)  # CUDA only
    stream = {r["variant"] for r in measured if r["section"] == "stream"}
    assert "shards -> views -> step" in stream
    assert (tmp_path / "gpu_suite.md").read_text().count("\n") == len(rows) + 2
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["smoke"] is True and info["cpu_model"] and info["device"] == "cpu"
    assert "done in" in result.stdout


def test_gpu_suite_time_guard_skips_instead_of_overrunning(tmp_path, run_benchmark, read_csv):
    run_benchmark("gpu_suite.py", "--device", "cpu", "--budget-s", "0", "--sections", "step", "stream",
                  "--out", str(tmp_path))
    rows = read_csv(tmp_path / "gpu_suite.csv")
    assert rows and all(r["note"] == "skipped: time budget" and not r["value"] for r in rows)
