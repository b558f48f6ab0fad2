"""GeoTIFF tile folders, scenes tiled on the fly, and `prepare tiles`."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import torch
from torch.utils.data import DataLoader

from byol_transfer.cli import main
from byol_transfer.data.build import build_dataset
from byol_transfer.data.datasets.scenes import SceneDataset
from byol_transfer.data.tiles.writer import write_tiles
from byol_transfer.data.tiles.grid import grid_starts, window_grid
from byol_transfer.errors import UserError


def test_tile_folder_keeps_dtype_bands_and_georeference(write):
    array = np.arange(3 * 8 * 8, dtype=np.int16).reshape(3, 8, 8) - 50
    write.geotiff("tiles/a.tif", array, descriptions=["red", "green", "nir"])
    write.geotiff("tiles/b.tif", array + 1, descriptions=["red", "green", "nir"], origin=(500_080.0, 4_000_000.0))
    ds = build_dataset(write.root / "tiles", 8, card=False)
    assert ds.layout == "geotiff_tiles" and len(ds) == 2
    assert ds.in_chans == 3 and ds.dtype == torch.int16 and ds.band_names == ["red", "green", "nir"]
    sample = ds[1]
    assert torch.equal(sample["image"], torch.from_numpy(array + 1))
    assert sample["meta"]["crs"] == "EPSG:32632"
    assert sample["meta"]["transform"].tolist() == [10.0, 0.0, 500_080.0, 0.0, -10.0, 4_000_000.0]
    batch = next(iter(DataLoader(ds, batch_size=2)))
    assert batch["image"].shape == (2, 3, 8, 8) and batch["meta"]["transform"].shape == (2, 6)


def test_band_selection_by_index_description_and_card_name(write):
    array = np.stack([np.full((8, 8), v, np.uint16) for v in (1, 2, 3, 4)])
    write.geotiff("t/a.tif", array, descriptions=["B02", "B03", "B04", "B08"])
    by_index = build_dataset(write.root / "t", 8, bands=[3, 2, 1], card=False)
    by_name = build_dataset(write.root / "t", 8, bands=["B04", "B03", "B02"], card=False)
    assert by_index[0]["image"][:, 0, 0].tolist() == [3, 2, 1] == by_name[0]["image"][:, 0, 0].tolist()
    assert by_name.in_chans == 3 and by_name.band_names == ["B04", "B03", "B02"]
    with pytest.raises(UserError, match="a.tif: no band named 'B12'.*B02, B03"):
        build_dataset(write.root / "t", 8, bands=["B12"], card=False)
    with pytest.raises(UserError, match="band 7 does not exist"):
        build_dataset(write.root / "t", 8, bands=[7], card=False)


def test_card_band_names_select_bands_in_files_without_descriptions(write, eurosat_like):
    ds = build_dataset(eurosat_like, 8, card="eurosat_ms", bands=["B04", "B03", "B02"])
    full = build_dataset(eurosat_like, 8, card="eurosat_ms")
    assert ds.in_chans == 3
    assert torch.equal(ds[0]["image"], full[0]["image"][[3, 2, 1]])


def test_tile_folder_min_valid_drops_nodata_tiles_and_fails_when_all_are(write, caplog):
    good = np.full((2, 8, 8), 5, np.uint16)
    write.geotiff("t/good.tif", good, nodata=0)
    write.geotiff("t/empty.tif", np.zeros((2, 8, 8), np.uint16), nodata=0)
    with caplog.at_level("WARNING"):
        ds = build_dataset(write.root / "t", 8, min_valid=0.5, card=False)
    assert [p.name for p in ds.files] == ["good.tif"] and "dropped 1 of 2" in caplog.text
    write.geotiff("u/empty.tif", np.zeros((2, 8, 8), np.uint16), nodata=0)
    with pytest.raises(UserError, match="all 1 tile.*less than 50% valid"):
        build_dataset(write.root / "u", 8, min_valid=0.5, card=False)


def test_grid_covers_the_far_edge():
    assert grid_starts(40, 16, 16) == [0, 16, 24]
    assert grid_starts(32, 16, 8) == [0, 8, 16]
    assert grid_starts(10, 16, 16) == []
    assert len(window_grid(40, 40, 16, 16)) == 9


def test_scene_windows_drop_nodata_and_keep_window_georeference(scene):
    ds = SceneDataset([scene], 16, 16, min_valid=0.9)
    # columns 0..11 are nodata: windows starting at col 0 are 25% valid, at 16 and 24 fully valid
    assert {(w.window.row, w.window.col) for w in ds.windows} == {(r, c) for r in (0, 16, 24) for c in (16, 24)}
    assert ds.dropped_windows == 3 and ds.in_chans == 4 and ds.dtype == torch.uint16
    sample = ds[0]
    row, col = sample["meta"]["window"][:2].tolist()
    with rasterio.open(scene) as src:
        expected = src.read(window=rasterio.windows.Window(col, row, 16, 16))
        transform = src.window_transform(rasterio.windows.Window(col, row, 16, 16))
    assert torch.equal(sample["image"], torch.from_numpy(expected))
    assert sample["meta"]["transform"].tolist() == list(transform)[:6]
    assert sample["meta"]["crs"] == "EPSG:32632"
    everything = SceneDataset([scene], 16, 16, min_valid=0.0)
    assert len(everything) == 9


def test_scene_band_selection_by_description_and_resize(scene):
    ds = SceneDataset([scene], 16, 8, bands=["B04", "B08"], image_size=8)
    assert ds.in_chans == 2 and ds.band_names == ["B04", "B08"]
    assert ds[0]["image"].shape == (2, 8, 8)


def test_nan_nodata_value_and_all_zero_pixels_are_invalid(write):
    array = np.ones((2, 16, 16), np.float32)
    array[:, :8, :] = np.nan  # top half NaN
    nan_scene = write.geotiff("nan.tif", array)
    assert len(SceneDataset([nan_scene], 8, 8, min_valid=0.9)) == 2
    array = np.full((2, 16, 16), 7, np.int16)
    array[0, :, :8] = -9999  # one band's nodata makes the pixel invalid
    array[:, 8:, 8:] = 0  # all-zero pixels are invalid without any declared nodata
    mixed = write.geotiff("mixed.tif", array, nodata=-9999)
    kept = SceneDataset([mixed], 8, 8, min_valid=0.9).windows
    assert [(w.window.row, w.window.col) for w in kept] == [(0, 8)]


def test_all_nodata_scene_is_a_clear_error(write):
    empty = write.geotiff("void.tif", np.zeros((3, 32, 32), np.uint16), nodata=0)
    with pytest.raises(UserError, match="void.tif: no 16-px window has at least 90% valid pixels"):
        SceneDataset([empty], 16)


def test_scene_band_count_mismatch_and_small_scene(write, scene):
    other = write.geotiff("three.tif", np.ones((3, 40, 40), np.uint16))
    with pytest.raises(UserError, match="three.tif: 3 band"):
        SceneDataset([scene, other], 16)
    small = write.geotiff("small.tif", np.ones((4, 8, 8), np.uint16))
    with pytest.raises(UserError, match="small.tif: .*smaller than one 16-px tile"):
        SceneDataset([small], 16)
    ds = SceneDataset([scene, other, small], 16, skip_bad=True)
    assert ds.scenes == [scene]


def test_scene_workers_each_open_their_own_handle(scene):
    ds = SceneDataset([scene], 16, 8, min_valid=0.5)
    ds[0]  # opens a handle in this process; workers must not reuse it
    single = torch.cat([b["image"] for b in DataLoader(ds, batch_size=4, num_workers=0)])
    double = torch.cat([b["image"] for b in DataLoader(ds, batch_size=4, num_workers=2)])
    assert torch.equal(single, double)
    assert len(ds._handles) == 1  # the parent's handle was reused across calls, not reopened


def test_large_geotiffs_are_tiled_automatically(write):
    write.geotiff("scenes/s.tif", np.ones((2, 64, 64), np.uint16))
    ds = build_dataset(write.root / "scenes", 16, card=False)
    assert isinstance(ds, SceneDataset) and ds.layout == "geotiff_scenes" and len(ds) == 16
    single = build_dataset(write.root / "scenes" / "s.tif", 16, stride=8, card=False)
    assert len(single) == 49


def test_prepare_tiles_writes_georeferenced_tiles(scene, tmp_path):
    report = write_tiles([scene], tmp_path / "out", 16, 16, min_valid=0.9, bands=["B04", "B03", "B02"])
    assert (report.kept, report.skipped) == (6, 3)
    with rasterio.open(scene) as src:
        for path in report.files:
            with rasterio.open(path) as tile:
                assert tile.crs == src.crs and tile.count == 3 and tile.dtypes[0] == "uint16"
                assert tile.descriptions == ("B04", "B03", "B02")
                col, row = ~src.transform @ (tile.transform.c, tile.transform.f)
                window = rasterio.windows.Window(round(col), round(row), 16, 16)
                np.testing.assert_array_equal(tile.read(), src.read([3, 2, 1], window=window))
    index = (tmp_path / "out" / "tiles.csv").read_text().splitlines()
    assert index[0] == "file,scene,row,col,size,valid_fraction" and len(index) == 7
    # the written folder reads back as a tile folder
    tiles = build_dataset(tmp_path / "out", 16, card=False)
    assert len(tiles) == 6 and tiles.layout == "geotiff_tiles"


def test_prepare_tiles_cli_reports_kept_and_skipped(scene, tmp_path, capsys):
    code = main(["-q", "prepare", "tiles", str(scene), "--size", "16", "--stride", "16",
                 "--out", str(tmp_path / "t"), "--min-valid", "0.9", "--bands", "1,2"])
    out = capsys.readouterr().out
    assert code == 0 and "kept 6 tile(s), skipped 3" in out
    code = main(["-q", "prepare", "tiles", str(tmp_path / "missing.tif"), "--size", "16", "--out", str(tmp_path / "t")])
    err = capsys.readouterr().err
    assert code == 2 and "scene not found" in err and len(err.strip().splitlines()) == 1
