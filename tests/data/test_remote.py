"""Remote scenes and shards through a local HTTP server (127.0.0.1 only) with byte-range support.

URL reads must equal local reads bit-exactly, read only the bytes a window needs, and fail with an error
naming the URL, within bounded time, when the server dies midway or is not there at all.
"""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from byol_transfer.cli import main
from byol_transfer.data.build import build_dataset
from byol_transfer.data.datasets.scenes import SceneDataset
from byol_transfer.data.shards import build_shard_stream, write_shards
from byol_transfer.errors import UserError
from tests.http_range_server import closed_port_url, serve


@pytest.fixture(autouse=True)
def bounded(monkeypatch):
    """Short GDAL/curl timeouts, and a hard stop: a test here may fail, never hang."""
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "3")
    monkeypatch.setenv("GDAL_HTTP_CONNECTTIMEOUT", "2")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.1")

    def hang(*_):
        raise TimeoutError("a remote read hung for 60 s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def cog(write, tmp_path) -> Path:
    """A 4-band 256×256 uint16 Cloud-Optimised GeoTIFF (128-px internal tiles, deflate) in served/."""
    import rasterio
    from rasterio.shutil import copy

    array = write.rng.integers(1, 10_000, (4, 256, 256)).astype(np.uint16)
    plain = write.geotiff("plain.tif", array, descriptions=["B02", "B03", "B04", "B08"])
    out = tmp_path / "served" / "scene.tif"
    out.parent.mkdir()
    copy(plain, out, driver="COG", BLOCKSIZE=128, COMPRESS="DEFLATE", OVERVIEWS="NONE")
    with rasterio.open(out) as src:
        assert src.block_shapes[0] == (128, 128)
    return out


def assert_same_windows(remote: SceneDataset, local: SceneDataset) -> None:
    assert len(remote) == len(local) > 0
    for i in range(len(local)):
        r, l_ = remote[i], local[i]
        assert r["image"].dtype == l_["image"].dtype and torch.equal(r["image"], l_["image"])
        assert r["meta"]["crs"] == l_["meta"]["crs"]
        assert torch.equal(r["meta"]["transform"], l_["meta"]["transform"])
        assert torch.equal(r["meta"]["window"], l_["meta"]["window"])


def test_scene_windows_over_http_equal_local_reads(cog):
    with serve(cog.parent) as server:
        remote = SceneDataset([f"{server.url}/scene.tif"], 64, 48, min_valid=0.5)
        assert_same_windows(remote, SceneDataset([cog], 64, 48, min_valid=0.5))
        assert remote.band_names == ["B02", "B03", "B04", "B08"]


def test_a_window_read_fetches_a_fraction_of_the_file(cog):
    with serve(cog.parent) as server:
        dataset = SceneDataset([f"{server.url}/scene.tif"], 32, min_valid=0.0)  # no validity scan
        dataset[0]
        sent = server.bytes_sent["/scene.tif"]
    assert 0 < sent < cog.stat().st_size / 3  # header + the one 128-px tile of 4 that the window lies in


def test_prepare_tiles_and_shards_accept_urls_and_url_lists(cog, tmp_path):
    with serve(cog.parent) as server:
        url = f"{server.url}/scene.tif"
        listing = tmp_path / "scenes.txt"
        listing.write_text(f"# one scene\n{url}\n")
        assert main(["-q", "prepare", "tiles", url, "--size", "64", "--out", str(tmp_path / "tiles")]) == 0
        assert main(["-q", "prepare", "shards", "--data", str(listing), "--tile", "64",
                     "--out", str(tmp_path / "shards")]) == 0
    import rasterio

    with rasterio.open(tmp_path / "tiles" / "scene_r00064_c00000.tif") as tile, rasterio.open(cog) as src:
        assert np.array_equal(tile.read(), src.read(window=((64, 128), (0, 64))))
    local = build_dataset(cog, None, tile_size=64)
    got = {int(s["meta"]["key"]): s for s in build_shard_stream(tmp_path / "shards", passes=1, shuffle_buffer=0)}
    assert sorted(got) == list(range(len(local)))
    for i in range(len(local)):
        assert torch.equal(got[i]["image"], local[i]["image"])
        assert got[i]["meta"]["path"] == url


def test_shards_stream_over_http_like_local_ones(write, tmp_path):
    data = write.class_folders(write.root / "tiles", ["x"], 8, bands=4, size=8)
    out = tmp_path / "served" / "shards"
    write_shards(build_dataset(data, None), out, 1500, source="tiles")
    local = [s["meta"]["key"] for s in build_shard_stream(out, passes=1, seed=4, shuffle_buffer=3)]
    with serve(tmp_path / "served") as server:
        for spec in (f"{server.url}/shards/", f"{server.url}/shards/shard-{{000000..000003}}.tar"):
            stream = build_shard_stream(spec, passes=1, seed=4, shuffle_buffer=3)
            samples = list(stream)
            if spec.endswith("/"):
                assert [s["meta"]["key"] for s in samples] == local
            by_key = {s["meta"]["key"]: s["image"] for s in build_shard_stream(out, passes=1)}
            assert all(torch.equal(s["image"], by_key[s["meta"]["key"]]) for s in samples)


def test_a_server_dropping_the_connection_midway_is_an_error_naming_the_url(cog, write, tmp_path):
    data = write.class_folders(write.root / "tiles", ["x"], 6, bands=4, size=8)
    write_shards(build_dataset(data, None), cog.parent / "shards", 10**9, source="tiles")
    with serve(cog.parent) as server:
        server.drop_after["/scene.tif"] = 2000  # enough for no tile
        url = f"{server.url}/scene.tif"
        with pytest.raises(UserError, match=url.replace(".", r"\.")):
            SceneDataset([url], 32, min_valid=0.0)[0]
        server.drop_after["/shards/shard-000000.tar"] = 3000
        shard = f"{server.url}/shards/shard-000000.tar"
        with pytest.raises(UserError, match="shard-000000.tar"):
            list(build_shard_stream(shard, passes=1))


def test_a_dead_server_is_a_one_line_error_naming_the_url(tmp_path, capsys):
    url = f"{closed_port_url()}/scene.tif"
    assert main(["prepare", "shards", "--data", url, "--tile", "32", "--out", str(tmp_path / "s")]) == 2
    assert main(["prepare", "tiles", url, "--size", "32", "--out", str(tmp_path / "t")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 2 and all(url in line for line in errors)
