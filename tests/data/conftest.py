"""Tiny real-format data files for the data-layer tests, written into tmp_path.

In the spirit of TorchGeo's ``tests/data/*/data.py``: every file is a genuine GeoTIFF (with a CRS), PNG,
JPEG, BMP, npz or DICOM, a few pixels large, so the readers are exercised exactly as on real archives.
Tests get the writers through the ``write`` fixture (pytest's importlib mode does not let test modules
import this file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pytest

EUROSAT_CLASSES = ["AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture",
                   "PermanentCrop", "Residential", "River", "SeaLake"]


class Writers:
    """Helpers that write one file (or a small folder) and return its path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rng = np.random.default_rng(0)

    # ---- single files --------------------------------------------------------------------------

    def geotiff(
        self,
        path: str | Path,
        array: np.ndarray,
        *,
        crs: str | None = "EPSG:32632",
        origin: tuple[float, float] = (500_000.0, 4_000_000.0),
        pixel: float = 10.0,
        nodata: float | None = None,
        descriptions: Sequence[str] | None = None,
        tiled: bool = False,
    ) -> Path:
        import rasterio
        from rasterio.transform import from_origin

        path = self._path(path)
        count, height, width = array.shape
        profile = dict(driver="GTiff", width=width, height=height, count=count, dtype=array.dtype.name,
                       transform=from_origin(origin[0], origin[1], pixel, pixel), nodata=nodata)
        if crs is not None:
            profile["crs"] = crs
        if tiled:
            profile.update(tiled=True, blockxsize=16, blockysize=16)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array)
            for i, text in enumerate(descriptions or [], start=1):
                dst.set_band_description(i, text)
        return path

    def pil(self, path: str | Path, array: np.ndarray, mode: str | None = None, **save) -> Path:
        """H×W or H×W×C array → PNG/JPEG/BMP/TIFF via Pillow (16-bit gray: mode "I;16")."""
        from PIL import Image

        path = self._path(path)
        image = Image.fromarray(array, mode=mode) if mode else Image.fromarray(array)
        image.save(path, **save)
        return path

    def palette_png(self, path: str | Path, indices: np.ndarray, colours: Sequence[tuple[int, int, int]]) -> Path:
        from PIL import Image

        path = self._path(path)
        image = Image.fromarray(indices.astype(np.uint8), mode="P")
        flat = [v for c in colours for v in c]
        image.putpalette(flat + [0] * (768 - len(flat)))
        image.save(path)
        return path

    def npz(self, path: str | Path, splits: dict[str, int], size: int = 8, rgb: bool = False,
            classes: int = 2, label_shape: str = "n1") -> Path:
        path = self._path(path)
        arrays = {}
        for split, n in splits.items():
            shape = (n, size, size, 3) if rgb else (n, size, size)
            arrays[f"{split}_images"] = self.rng.integers(0, 256, shape, dtype=np.uint8)
            labels = np.arange(n) % classes
            arrays[f"{split}_labels"] = labels[:, None].astype(np.uint8) if label_shape == "n1" else labels
        np.savez_compressed(path, **arrays)
        return path

    def dicom(self, path: str | Path, raw: np.ndarray, slope: float = 1.0, intercept: float = -1024.0,
              signed: bool = False) -> Path:
        """A minimal single-frame CT slice (explicit VR little endian)."""
        from pydicom.dataset import Dataset, FileMetaDataset
        from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

        path = self._path(path)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.Rows, ds.Columns = raw.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 1 if signed else 0
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.PixelData = raw.astype(np.int16 if signed else np.uint16).tobytes()
        ds.save_as(str(path), enforce_file_format=True)
        return path

    # ---- folders -------------------------------------------------------------------------------

    def class_folders(self, root: str | Path, classes: Sequence[str], per_class: int, *, bands: int = 13,
                      size: int = 8, dtype: str = "uint16", suffix: str = ".tif") -> Path:
        """``root/<class>/<class>_<n>.tif`` GeoTIFF tiles (or PNGs when ``suffix`` is .png)."""
        root = self._path(root)
        for c in classes:
            for i in range(per_class):
                if suffix == ".tif":
                    array = self.rng.integers(1, 4000, (bands, size, size)).astype(dtype)
                    self.geotiff(root / c / f"{c}_{i}.tif", array)
                else:
                    array = self.rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                    self.pil(root / c / f"{c}_{i}{suffix}", array)
        return root

    def seg_folder(self, root: str | Path, n: int = 4, *, size: int = 8, mask_suffix: str = "",
                   image_ext: str = ".png", mask_values: Sequence[int] = (0, 255)) -> Path:
        """``root/images/<i><ext>`` RGB + ``root/masks/<i><suffix>.png`` with the given values."""
        root = self._path(root)
        for i in range(n):
            image = self.rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            if image_ext == ".tif":
                self.geotiff(root / "images" / f"{i}.tif", image.transpose(2, 0, 1))
            else:
                self.pil(root / "images" / f"{i}{image_ext}", image)
            mask = np.full((size, size), mask_values[0], dtype=np.uint8)
            mask[: size // 2] = mask_values[-1]
            self.pil(root / "masks" / f"{i}{mask_suffix}.png", mask)
        return root

    def _path(self, path: str | Path) -> Path:
        path = self.root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


@pytest.fixture
def write(tmp_path: Path) -> Writers:
    return Writers(tmp_path)


@pytest.fixture
def scene(write: Writers) -> Path:
    """A 4-band 40×40 uint16 scene (UTM, nodata 0) whose left 12 columns are nodata."""
    array = write.rng.integers(100, 3000, (4, 40, 40)).astype(np.uint16)
    array[:, :, :12] = 0
    return write.geotiff("scene.tif", array, nodata=0, descriptions=["B02", "B03", "B04", "B08"], tiled=True)


@pytest.fixture
def eurosat_like(write: Writers) -> Path:
    """EuroSAT MS in miniature: train/ and test/ with the ten class folders, 13-band uint16 GeoTIFFs."""
    root = write.root / "eurosat_ms"
    write.class_folders(root / "train", EUROSAT_CLASSES, 2)
    write.class_folders(root / "test", EUROSAT_CLASSES, 1)
    return root
