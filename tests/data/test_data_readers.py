"""Image files of every supported kind decode to C×H×W in their stored dtype; bad files name themselves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from byol_transfer.data.badfiles import BadFileError
from byol_transfer.data.build import build_dataset
from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.data.formats.dispatch import decode, probe_image, read_image
from byol_transfer.errors import UserError


@pytest.mark.parametrize(
    "name, array, mode, channels, dtype",
    [
        ("gray8.png", np.arange(64, dtype=np.uint8).reshape(8, 8), None, 1, np.uint8),
        ("rgb8.png", np.arange(192, dtype=np.uint8).reshape(8, 8, 3), None, 3, np.uint8),
        ("gray16.png", (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8), None, 1, np.uint16),
        ("rgb8.bmp", np.arange(192, dtype=np.uint8).reshape(8, 8, 3), None, 3, np.uint8),
        ("gray8.tif", np.arange(64, dtype=np.uint8).reshape(8, 8), None, 1, np.uint8),
        ("rgb8.tif", np.arange(192, dtype=np.uint8).reshape(8, 8, 3), None, 3, np.uint8),
        ("gray16.tif", (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8), None, 1, np.uint16),
    ],
)
def test_lossless_formats_round_trip_in_native_dtype(write, name, array, mode, channels, dtype):
    path = write.pil(name, array, mode)
    info = probe_image(path)
    assert (info.channels, info.height, info.width, info.dtype) == (channels, 8, 8, np.dtype(dtype).name)
    out = read_image(path)
    expected = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    assert out.dtype == dtype and out.shape == (channels, 8, 8)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_16bit_rgb_png_keeps_16_bits(write):
    """Pillow would silently reduce a 48-bit PNG to 8 bits per channel; GDAL reads it whole."""
    import rasterio

    array = (np.arange(3 * 64, dtype=np.uint16).reshape(3, 8, 8) * 300)
    path = write.root / "rgb16.png"
    with rasterio.open(path, "w", driver="PNG", width=8, height=8, count=3, dtype="uint16") as dst:
        dst.write(array)
    assert probe_image(path).dtype == "uint16"
    np.testing.assert_array_equal(read_image(path), array)


def test_jpeg_decodes_to_uint8_rgb(write):
    path = write.pil("photo.jpg", np.full((8, 8, 3), 128, dtype=np.uint8))
    out = read_image(path)
    assert out.shape == (3, 8, 8) and out.dtype == np.uint8 and abs(int(out.mean()) - 128) <= 2


def test_geotiff_any_band_count_and_dtype_with_georeference(write):
    for dtype in ("uint8", "uint16", "int16", "float32"):
        array = (np.arange(5 * 36).reshape(5, 6, 6) - 20).astype(dtype)
        path = write.geotiff(f"t_{dtype}.tif", array)
        decoded = decode(path)
        np.testing.assert_array_equal(decoded.array, array)
        assert decoded.crs == "EPSG:32632"
        assert decoded.transform == (10.0, 0.0, 500_000.0, 0.0, -10.0, 4_000_000.0)


@pytest.mark.parametrize("name, writer", [
    ("cut.png", lambda w, p: w.pil(p, np.zeros((32, 32, 3), np.uint8))),
    ("cut.jpg", lambda w, p: w.pil(p, np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8))),
    ("cut.tif", lambda w, p: w.geotiff(p, np.ones((3, 64, 64), np.uint16))),
])
def test_truncated_files_fail_at_the_header_scan_naming_the_file(write, name, writer):
    path = writer(write, name)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UserError, match=f"{name}.*(truncated|not a readable)"):
        probe_image(path)


def test_corrupt_and_non_image_files(write):
    (write.root / "garbage.png").write_bytes(b"this is not a png at all")
    with pytest.raises(BadFileError, match="garbage.png: not a readable image"):
        probe_image(write.root / "garbage.png")
    (write.root / "garbage.tif").write_bytes(b"II*\x00" + b"\x00" * 10)
    with pytest.raises(BadFileError, match="garbage.tif"):
        probe_image(write.root / "garbage.tif")


def test_image_folder_fails_fast_on_a_bad_file_or_skips_and_counts_it(write, caplog):
    folder = write.root / "imgs"
    for i in range(3):
        write.pil(f"imgs/ok_{i}.png", np.full((8, 8, 3), i, np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nonsense")
    with pytest.raises(UserError, match="broken.jpg"):
        ImageFolderDataset(folder, 8)
    with caplog.at_level("WARNING"):
        ds = ImageFolderDataset(folder, 8, skip_bad=True)
    assert len(ds) == 3 and ds.skipped == 1
    assert "skipped 1 bad image file(s)" in caplog.text and "broken.jpg" in caplog.text


def test_non_image_files_are_ignored_and_counted(write, caplog):
    write.pil("imgs/a.png", np.zeros((8, 8), np.uint8))
    (write.root / "imgs" / "notes.txt").write_text("field notes")
    (write.root / "imgs" / ".DS_Store").write_bytes(b"\x00")
    with caplog.at_level("INFO"):
        ds = build_dataset(write.root / "imgs", 8, card=False)
    assert len(ds) == 1
    assert "ignored 1 non-image file(s)" in caplog.text and ".txt" in caplog.text


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images .* found under .*empty"):
        build_dataset(tmp_path / "empty", 8)


def test_mixed_channel_counts_in_one_folder_fail_naming_the_file(write):
    write.pil("mix/a.png", np.zeros((8, 8, 3), np.uint8))
    write.pil("mix/b.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(UserError, match="b.png: 1 channel"):
        ImageFolderDataset(write.root / "mix", 8)


def test_corruption_found_only_when_reading_names_the_file_or_is_skipped(write, caplog):
    """A PNG damaged in its middle passes the header scan; reading it still names it (or skips it)."""
    rng = np.random.default_rng(1)
    for i in range(3):
        write.pil(f"imgs/{i}.png", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    bad = write.root / "imgs" / "1.png"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 40] = b"\x00" * 40  # inside the IDAT stream; IEND intact
    bad.write_bytes(bytes(data))
    ds = ImageFolderDataset(write.root / "imgs", 8)
    assert len(ds) == 3
    with pytest.raises(UserError, match="1.png: cannot decode image"):
        ds[1]
    skipping = ImageFolderDataset(write.root / "imgs", 8, skip_bad=True)
    with caplog.at_level("WARNING"):
        sample = skipping[1]
    assert sample["meta"]["path"].endswith("2.png") and "1.png" in caplog.text


def test_worker_errors_reach_the_main_process_as_one_line_naming_the_file(write):
    from torch.utils.data import DataLoader

    for i in range(4):
        write.pil(f"imgs/{i}.png", np.zeros((8, 8, 3), np.uint8))
    ds = ImageFolderDataset(write.root / "imgs", 8)
    (write.root / "imgs" / "2.png").write_bytes(b"gone bad after the scan")
    loader = DataLoader(ds, batch_size=2, num_workers=1)
    with pytest.raises(UserError) as info:
        list(loader)
    message = str(info.value)
    assert "2.png" in message and "\n" not in message and "Traceback" not in message


def test_resize_keeps_dtype_and_makes_squares(write):
    write.pil("wide/a.png", (np.arange(8 * 16, dtype=np.uint16) * 50).reshape(8, 16))
    sample = ImageFolderDataset(write.root / "wide", 4)[0]
    assert sample["image"].shape == (1, 4, 4) and sample["image"].dtype == torch.uint16
