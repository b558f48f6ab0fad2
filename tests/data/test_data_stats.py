"""Streaming per-band statistics and the value scalings they feed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from byol_transfer.augment.scaling import ValueScaling, resolve_normalization, scales_to_unit_range
from byol_transfer.cli import main
from byol_transfer.config import NormalizeSpec, ScalingSpec
from byol_transfer.data.build import build_dataset
from byol_transfer.data.stats import BandStats, compute_stats
from byol_transfer.errors import UserError


def test_integer_statistics_are_exact_and_skip_nodata():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 5000, (3, 10, 10)).astype(np.uint16) for _ in range(5)]
    images[0][:, :2] = 9999  # nodata rows
    stats = BandStats(3, "uint16", nodata=9999)
    for image in images:
        stats.update(image)
    result = stats.result(ScalingSpec(kind="divide", value=10000))
    valid = np.concatenate([im.reshape(3, -1) for im in images], axis=1)
    valid = valid[:, valid[0] != 9999].astype(np.float64)
    assert result["pixels"] == [valid.shape[1]] * 3
    np.testing.assert_allclose(result["raw"]["mean"], valid.mean(axis=1))
    np.testing.assert_allclose(result["raw"]["std"], valid.std(axis=1))
    np.testing.assert_allclose(result["mean"], valid.mean(axis=1) / 10000)
    np.testing.assert_allclose(result["std"], valid.std(axis=1) / 10000)
    np.testing.assert_array_equal(result["p1"], np.percentile(valid, 1, axis=1, method="inverted_cdf"))
    np.testing.assert_array_equal(result["p99"], np.percentile(valid, 99, axis=1, method="inverted_cdf"))
    assert result["raw"]["max"] == valid.max(axis=1).tolist()


def test_int16_negative_values_and_clip_scalings():
    image = np.arange(-500, 500, dtype=np.int16).reshape(1, 10, 100)
    stats = BandStats(1, "int16")
    stats.update(image)
    window = stats.result(ScalingSpec(kind="ct_window", center=0, width=400))
    expected = np.clip((image.astype(float) + 200) / 400, 0, 1)
    assert window["mean"][0] == pytest.approx(expected.mean()) and window["std"][0] == pytest.approx(expected.std())
    clipped = stats.result(ScalingSpec(kind="percentile_clip"))
    lo, hi = clipped["p1"][0], clipped["p99"][0]
    expected = np.clip((image.astype(float) - lo) / (hi - lo), 0, 1)
    assert clipped["mean"][0] == pytest.approx(expected.mean())


def test_float_statistics_use_moments_and_a_bounded_reservoir():
    rng = np.random.default_rng(0)
    stats = BandStats(2, "float32", reservoir=5000)
    chunks = [rng.normal(3.0, 2.0, (2, 50, 50)).astype(np.float32) for _ in range(8)]
    chunks[0][:, 0, 0] = np.nan
    for chunk in chunks:
        stats.update(chunk)
    result = stats.result(None)
    data = np.concatenate([c.reshape(2, -1) for c in chunks], axis=1)
    data = data[:, ~np.isnan(data[0])].astype(np.float64)
    np.testing.assert_allclose(result["raw"]["mean"], data.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(result["raw"]["std"], data.std(axis=1), rtol=1e-6)
    assert all(len(s) == 5000 for s in stats.sample)
    np.testing.assert_allclose(result["p1"], np.percentile(data, 1, axis=1), atol=0.35)  # ~3 standard errors
    np.testing.assert_allclose(result["p99"], np.percentile(data, 99, axis=1), atol=0.35)


def test_dataset_stats_are_nodata_aware_for_geotiffs_only(write):
    tif = np.full((2, 4, 4), 10, np.uint16)
    tif[:, 0] = 0  # an all-zero row: invalid in a GeoTIFF
    write.geotiff("g/a.tif", tif)
    geo = compute_stats(build_dataset(write.root / "g", None, card=False), ScalingSpec(kind="none"))
    assert geo["pixels"] == [12, 12] and geo["raw"]["mean"] == [10.0, 10.0] and geo["zero_is_nodata"]
    png = np.full((4, 4), 10, np.uint8)
    png[0] = 0  # black pixels in a photo or an X-ray are data
    write.pil("p/a.png", png)
    plain = compute_stats(build_dataset(write.root / "p", None, card=False), ScalingSpec(kind="none"))
    assert plain["pixels"] == [16] and plain["raw"]["mean"] == [7.5]


def test_all_nodata_dataset_is_an_error():
    stats = BandStats(1, "uint8", nodata=0)
    stats.update(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(UserError, match="no valid pixels in band 1"):
        stats.result()


def test_stats_cli_writes_json_that_normalisation_and_clipping_read(write, eurosat_like, tmp_path, capsys):
    out = tmp_path / "stats.json"
    code = main(["-q", "stats", "--data", str(eurosat_like), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    stats = json.loads(out.read_text())
    assert stats["card"] == "eurosat_ms" and stats["images"] == 20 and len(stats["mean"]) == 13
    assert stats["scaling"]["kind"] == "divide" and stats["bands"][-1] == "B8A"
    assert stats["class_counts"]["Forest"] == 2  # the card says labels come from class folders
    mean, std = resolve_normalization(NormalizeSpec(stats=str(out)), 13, "test")
    assert mean == stats["mean"] and all(s > 0 for s in std)
    clip = ValueScaling(ScalingSpec(kind="percentile_clip", stats=str(out)), in_chans=13)
    scaled = clip(torch.full((1, 13, 2, 2), 60000, dtype=torch.uint16))
    assert torch.all(scaled == 1.0)
    code = main(["-q", "stats", "--data", str(eurosat_like), "--out", str(out), "--scaling", "ct_window:40"])
    assert code == 2 and "--scaling 'ct_window:40'" in capsys.readouterr().err


def test_value_scaling_kinds():
    x = torch.tensor([[[[-1000, 40, 240]]]], dtype=torch.int16)
    window = ValueScaling(ScalingSpec(kind="ct_window", center=40, width=400))
    assert window(x).tolist() == [[[[0.0, 0.5, 1.0]]]]
    two = ValueScaling(ScalingSpec(kind="percentile_clip", low=[0, 100], high=[10, 200]))
    y = two(torch.tensor([[[[5]], [[250]]]], dtype=torch.uint16))
    assert y.flatten().tolist() == [0.5, 1.0]
    assert scales_to_unit_range(ScalingSpec(kind="ct_window", center=0, width=1), torch.int16)
    with pytest.raises(UserError, match="'ct_window' needs 'center'"):
        ValueScaling(ScalingSpec(kind="ct_window"))
    with pytest.raises(UserError, match="2 bounds for 3-channel"):
        ValueScaling(ScalingSpec(kind="percentile_clip", low=[0, 0], high=[1, 1]), in_chans=3)
    with pytest.raises(UserError, match="stats file not found"):
        ValueScaling(ScalingSpec(kind="percentile_clip", stats="/nonexistent/stats.json"))
    with pytest.raises(UserError, match="high bound must exceed"):
        ValueScaling(ScalingSpec(kind="percentile_clip", low=[5], high=[5]))
