"""Prediction with a trained segmentation model: tiled, overlap-blended, at the images' own resolution.

Each image is covered by tiles of the training size with ``overlap`` (a fraction of the tile) between
neighbours; the last tile of a row or column is aligned with the image edge, and an image smaller than a
tile is padded (with the normalised mean, 0) and cropped back. Per-class probabilities of overlapping
tiles are averaged with a sine window (weight highest at a tile's centre, small but non-zero at its
border), so tile seams do not show; the class map is their argmax.

When the training images were resized (``resize`` in model.json), new images are resized the same way
before tiling — by the same factor for fixed-size tiles, or shorter side to the training size for photos
of varying size — and the probabilities are resized back, so masks always have the input's size.

GeoTIFF inputs give single-band GeoTIFF masks with the input's CRS and transform (uint8 class indices,
deflate); any other input gives a PNG. Output paths mirror the input paths under ``--out``.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ....augment.views import EvalTransform
from ....data.badfiles import BadFileError, first_line
from ....errors import UserError
from ...inits import eval_transform_from_sidecar
from ....io import atomic_path
from .smp import META_FILE, load_segmentation_model

log = logging.getLogger(__name__)

TIFF_SUFFIXES = {".tif", ".tiff"}


def resolve_model_dir(path: str | Path) -> Path:
    """A model folder (model.json), or a ``segment --out`` folder holding exactly one model."""
    path = Path(path)
    if (path / META_FILE).is_file():
        return path
    if not path.is_dir():
        raise UserError(f"--model {path}: not a folder")
    found = sorted(p.parent for p in path.glob(f"models/**/{META_FILE}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"--model {path}: no {META_FILE} here or under models/ (train one with byol-transfer segment)")
    listed = ", ".join(str(p) for p in found[:6])
    raise UserError(f"--model {path} holds {len(found)} models; choose one: {listed}")


def blend_window(tile: int) -> torch.Tensor:
    """tile × tile weights: a sine bump, 1 at the centre, ~π/(2·tile) at the border, never 0."""
    ramp = torch.sin(math.pi * (torch.arange(tile, dtype=torch.float32) + 0.5) / tile)
    return ramp[:, None] * ramp[None, :]


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Tile offsets covering [0, length): every ``stride``, plus one flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, stride))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def _windows(height: int, width: int, tile: int, stride: int) -> Iterator[tuple[int, int]]:
    for top in tile_starts(height, tile, stride):
        for left in tile_starts(width, tile, stride):
            yield top, left


@torch.no_grad()
def predict_probabilities(model: nn.Module, image: torch.Tensor, num_classes: int, tile: int,
                          overlap: float = 0.25, batch_size: int = 8,
                          device: torch.device | str = "cpu") -> torch.Tensor:
    """Blended per-class probabilities (num_classes × H × W) of a normalised C×H×W float image."""
    if not 0 <= overlap < 1:
        raise UserError(f"--overlap must lie in [0, 1), got {overlap}")
    device = torch.device(device)
    _, height, width = image.shape
    pad_h, pad_w = max(0, tile - height), max(0, tile - width)
    if pad_h or pad_w:
        image = torch.nn.functional.pad(image, (0, pad_w, 0, pad_h))  # 0 = the mean after normalisation
    h, w = image.shape[-2:]
    stride = max(1, int(round(tile * (1 - overlap))))
    window = blend_window(tile).to(device)
    total = torch.zeros(num_classes, h, w, device=device)
    weight = torch.zeros(h, w, device=device)
    positions = list(_windows(h, w, tile, stride))
    model.eval()
    for start in range(0, len(positions), batch_size):
        chunk = positions[start:start + batch_size]
        batch = torch.stack([image[:, t:t + tile, s:s + tile] for t, s in chunk]).to(device)
        probs = model(batch).float().softmax(1)
        for (t, s), p in zip(chunk, probs):
            total[:, t:t + tile, s:s + tile] += p * window
            weight[t:t + tile, s:s + tile] += window
    return (total / weight).cpu()[:, :height, :width]


def resize_factor(resize: dict | None, height: int, width: int, tile: int) -> float:
    """How much to scale an image before prediction, from the model's ``resize`` record."""
    if not resize or resize.get("mode") in (None, "none"):
        return 1.0
    if resize["mode"] == "scale":
        return float(resize["factor"])
    if resize["mode"] == "shorter_side":
        return tile / min(height, width)
    raise UserError(f"unknown resize mode {resize['mode']!r} in model.json")


def predict_image(model: nn.Module, raw: torch.Tensor, transform: EvalTransform, num_classes: int, tile: int,
                  overlap: float = 0.25, batch_size: int = 8, device: torch.device | str = "cpu",
                  scale: float = 1.0) -> torch.Tensor:
    """H×W class map of one raw C×H×W image (its stored dtype); ``scale`` resizes it for the model."""
    import torch.nn.functional as F

    image = transform(raw[None].to(device))
    height, width = image.shape[-2:]
    if scale != 1.0:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        image = F.interpolate(image, size=size, mode="bilinear", antialias=scale < 1, align_corners=False)
    probs = predict_probabilities(model, image[0], num_classes, tile, overlap, batch_size, device)
    if scale != 1.0:
        probs = F.interpolate(probs[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    return probs.argmax(0)


def input_files(data: str | Path) -> tuple[list[Path], Path]:
    """(files, root): one file, or every image under a folder (``images/`` of a segmentation folder)."""
    from ....data.image_files import find_images
    from ....data.formats.dispatch import IMAGE_SUFFIXES

    data = Path(data)
    if not data.exists():
        raise UserError(f"--data {data}: not found")
    if data.is_file():
        return [data], data.parent
    root = data / "images" if (data / "images").is_dir() and (data / "masks").is_dir() else data
    return find_images(root, sorted(IMAGE_SUFFIXES)), root


def _read(path: Path) -> tuple[np.ndarray, dict | None]:
    """Pixels (C×H×W) and, for TIFFs, the rasterio profile fields to copy (crs, transform)."""
    from ....data.formats.dispatch import decode
    from ....data.formats.geotiff import open_raster

    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            with open_raster(path) as src:
                return src.read(), {"crs": src.crs, "transform": src.transform, "nodata": src.nodata,
                                    "descriptions": [d or "" for d in src.descriptions]}
        except Exception as e:  # noqa: BLE001 (rasterio raises several types for damaged files)
            raise BadFileError(f"{path}: cannot decode image ({type(e).__name__}: {first_line(e)})") from None
    return decode(path).array, None


def _write(mask: np.ndarray, out: Path, georef: dict | None) -> Path:
    if georef is not None:
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning

        out = out.with_suffix(".tif")
        with atomic_path(out) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a plain TIFF in, a plain TIFF out
            with rasterio.open(tmp, "w", driver="GTiff", width=mask.shape[1], height=mask.shape[0], count=1,
                               dtype=mask.dtype.name, crs=georef["crs"], transform=georef["transform"],
                               compress="deflate") as dst:
                dst.write(mask[None])
        return out
    from PIL import Image

    out = out.with_suffix(".png")
    with atomic_path(out) as tmp:
        Image.fromarray(mask).save(tmp, format="PNG")
    return out


def predict_folder(model_dir: str | Path, data: str | Path, out_dir: str | Path, overlap: float = 0.25,
                   batch_size: int = 8, device: str | torch.device = "cpu", progress: bool = True,
                   skip_bad: bool = False, bands: list | None = None) -> list[Path]:
    """Predict every image of ``data`` with the model in ``model_dir``; masks go to ``out_dir``.

    Every header is checked before the first mask is written; a file damaged in its middle (or holding
    NaN/inf or only nodata) is found when it is read. Either stops the run naming the file (masks already
    written stay, each complete), or with ``skip_bad`` is skipped and counted: no mask is ever written for
    an image that could not be read. A 1-channel model reads grey images stored as RGB as one channel.
    ``bands`` (``--bands``: numbers or GeoTIFF band names) picks the bands the model was trained on.
    """
    from tqdm.auto import tqdm

    from ....data.badfiles import SkipLog
    from ....data.bands import resolve_bands
    from ....data.datasets.grey_rgb import is_grey_rgb
    from ....data.pixel_checks import check_pixels
    from ....data.formats.dispatch import probe_image

    model_dir = resolve_model_dir(model_dir)
    model, meta = load_segmentation_model(model_dir)
    transform = eval_transform_from_sidecar(meta, str(model_dir / META_FILE))
    device = torch.device(device)
    model.to(device)
    transform.to(device)
    in_chans, tile, classes = int(meta["in_chans"]), int(meta["tile_size"]), list(meta["classes"])
    files, root = input_files(data)
    skips = SkipLog("image file(s)")

    def refuse(error: UserError) -> None:
        if not skip_bad:
            raise error
        skips.add(error)

    readable = []
    for path in files:  # headers first: a cut file stops the run before any mask is written
        try:
            probe_image(path)
            readable.append(path)
        except UserError as e:
            refuse(e)
    out_dir = Path(out_dir)
    written = []
    for path in tqdm(readable, disable=not progress, desc="predict", unit="image", dynamic_ncols=True):
        try:
            array, georef = _read(path)
        except UserError as e:
            refuse(e)
            continue
        if bands is not None:
            chosen = resolve_bands(bands, array.shape[0], path, (georef or {}).get("descriptions", ()))
            array = array[[b - 1 for b in chosen]]
        if in_chans == 1 and is_grey_rgb(array):
            array = array[:1]  # grey stored as RGB
        if array.shape[0] != in_chans:
            hint = "" if bands is not None else " (choose them with --bands)"
            raise UserError(f"{path}: {array.shape[0]} band(s), but the model in {model_dir} takes {in_chans}{hint}")
        try:
            check_pixels(array, path, georef.get("nodata") if georef else None, zero_is_nodata=georef is not None)
        except UserError as e:
            refuse(e)
            continue
        scale = resize_factor(meta.get("resize"), array.shape[1], array.shape[2], tile)
        classes_map = predict_image(model, torch.from_numpy(np.ascontiguousarray(array)), transform, len(classes),
                                    tile, overlap, batch_size, device, scale)
        dtype = np.uint8 if len(classes) <= 256 else np.uint16
        target = out_dir / path.relative_to(root)
        written.append(_write(classes_map.numpy().astype(dtype), target, georef))
    skips.report()
    if not written:
        raise UserError(f"--data {data}: no readable image left to predict ({len(skips)} skipped)")
    log.info("wrote %d mask(s) to %s (class indices: %s)", len(written), out_dir,
             ", ".join(f"{i}={c}" for i, c in enumerate(classes)))
    return written
