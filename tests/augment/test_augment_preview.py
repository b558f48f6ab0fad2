"""byol-transfer preview: a PNG grid of originals and both views, from real-format files."""

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin

from byol_transfer.augment.preview import grid_size
from byol_transfer.cli import main


def _png_folder(root, n=4, size=20, mode="RGB"):
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (size, size, 3) if mode == "RGB" else (size, size)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(root / f"img{i}.png")
    return root


def _geotiff_folder(root, n=3, bands=13, size=16):
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        data = rng.integers(0, 4000, (bands, size, size), dtype=np.uint16)
        with rasterio.open(root / f"tile{i}.tif", "w", driver="GTiff", width=size, height=size, count=bands,
                           dtype="uint16", crs="EPSG:32633", transform=from_origin(5e5, 4e6, 10, 10)) as dst:
            dst.write(data)
    return root


def test_preview_of_rgb_photos_has_the_grid_size(tmp_path, capsys):
    data = _png_folder(tmp_path / "photos")
    out = tmp_path / "views.png"
    assert main(["-q", "preview", "--config", "natural_rgb", "--data", str(data), "--out", str(out), "--n", "3"]) == 0
    with Image.open(out) as im:
        assert im.size == grid_size(3, 20) == (3 * 100 + 8, 3 * 100 + 8)  # 20 px cells enlarged 5x to 100
        pixels = np.asarray(im)
    assert pixels.std() > 10  # not a blank canvas
    assert "3 images" in capsys.readouterr().out


def test_preview_of_multispectral_geotiffs_is_a_false_colour_composite(tmp_path):
    data = _geotiff_folder(tmp_path / "s2")
    out = tmp_path / "sub" / "ms.png"
    code = main(["-q", "preview", "--config", "satellite_multispectral", "--data", str(data), "--out", str(out),
                 "--n", "8", "--rgb-bands", "4,3,2", "--image-size", "16", "--seed", "3"])
    assert code == 0
    with Image.open(out) as im:
        assert im.size == grid_size(3, 16)  # only 3 tiles exist
        assert im.mode == "RGB"
    assert not list(out.parent.glob(".*.tmp"))  # written atomically: no temp file left


def test_preview_is_reproducible_with_a_seed(tmp_path):
    data = _png_folder(tmp_path / "gray", mode="L")
    outs = [tmp_path / "a.png", tmp_path / "b.png"]
    for out in outs:
        main(["-q", "preview", "--config", "radiology_xray", "--data", str(data), "--out", str(out), "--n", "2"])
    assert np.array_equal(np.asarray(Image.open(outs[0])), np.asarray(Image.open(outs[1])))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rgb-bands", "4,3,99"], "band 99 does not exist in 13-band data"),
        (["--rgb-bands", "4,3"], "give 3 bands"),
        (["--rgb-bands", "B04,B03,B02"], "'B04' is neither a band number nor a band name"),
    ],
)
def test_bad_band_choices_are_one_line_errors(tmp_path, capsys, extra, message):
    data = _geotiff_folder(tmp_path / "s2", n=1)
    code = main(["preview", "--config", "satellite_multispectral", "--data", str(data),
                 "--out", str(tmp_path / "x.png"), *extra])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_wrong_channel_count_for_the_recipe_is_a_user_error(tmp_path, capsys):
    data = _geotiff_folder(tmp_path / "s2", n=1)
    code = main(["preview", "--config", "natural_rgb", "--data", str(data), "--out", str(tmp_path / "x.png")])
    assert code == 2
    err = capsys.readouterr().err
    assert "accepts 3 channel(s), but the data have 13" in err
    assert not (tmp_path / "x.png").exists()
