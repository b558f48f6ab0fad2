"""One entry point from ``--data PATH [--card NAME]`` to a dataset: detect the layout, apply the card.

Layouts, in the order they are recognised:

- a ``.npz`` file (or a folder holding exactly one): MedMNIST-style arrays → :class:`NpzDataset`;
- a GeoTIFF file: one scene tiled on the fly → :class:`SceneDataset`;
- a GeoTIFF/COG URL (``https://``, ``s3://``, ``gs://``) or a ``.txt`` file listing scene paths or URLs:
  scenes read window by window through GDAL (see remote.py);
- a folder with ``images/`` and ``masks/`` (optionally under ``train/``, ``test/``) → :class:`SegmentationDataset`;
- a folder of GeoTIFFs larger than 4× the image size on both sides (or ``tile_size`` given): scenes;
- any other folder: image files, GeoTIFF tiles or DICOM slices → :class:`ImageFolderDataset`.

Splits: ``train/`` + ``test/`` subfolders, a card's split files (label CSVs beside the data), or an npz's
own arrays. ``split=None`` means the training split when the data declare one, else everything — so
unlabeled pretraining never sees a declared test split unless asked (``split="all"``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from torch.utils.data import Dataset

from ..errors import UserError
from .cache import InMemoryDataset, cache_budget, cached_size
from .cards import DataCard, detect_card, load_card
from .geotiff import BandSpec
from .grey_rgb import use_one_channel_if_grey
from .image_folder import DEFAULT_EXTENSIONS, ImageFolderDataset, drop_masks_beside_images, find_images, first_image
from .labels import read_label_csv, split_folders
from .npz import NpzDataset
from .readers import TIFF_SUFFIXES, probe_image
from .remote import is_url, scene_list
from .scenes import SceneDataset
from .segmentation import SegmentationDataset, is_segmentation_folder
from .tile_filter import drop_invalid_tiles

log = logging.getLogger(__name__)

LAYOUTS = ("auto", "image_folder", "geotiff_tiles", "geotiff_scenes", "npz", "segmentation", "dicom_folder")

# A GeoTIFF at least this many image sizes wide and high is a scene to tile, not a tile to resize.
SCENE_FACTOR = 4


def build_dataset(
    path: str | Path,
    image_size: int | None,
    *,
    card: str | Path | DataCard | None | bool = None,
    labeled: bool = False,
    split: str | None = None,
    labels: str | Path | None = None,
    classes: Sequence[str] | None = None,
    layout: str = "auto",
    bands: Sequence[BandSpec] | None = None,
    tile_size: int | None = None,
    stride: int | None = None,
    min_valid: float | None = None,
    nodata: float | None = None,
    mask_suffix: str | None = None,
    mask_mapping: Mapping[Any, int] | None = None,
    extensions: Sequence[str] | None = None,
    skip_bad: bool = False,
    cache: bool | str = False,
    want_channels: int | None = None,
) -> Dataset:
    """A dataset of sample dicts (see the package docs) with ``.in_chans``, ``.dtype``, ``.card``, ``.layout``.

    ``card``: a card name, a card.yaml path or a :class:`DataCard`; ``None`` detects one from the layout
    where the data match exactly one card; ``False`` uses none. Explicit arguments override the card.
    ``labels``: a ``path,label`` CSV (paths relative to ``path``). ``image_size=None`` keeps native sizes.
    ``cache=True`` decodes everything once and serves it from memory (see cache.py); ``cache="auto"`` does
    so when the decoded images fit in 4 GiB and a quarter of the machine's memory. ``want_channels``: the
    channel count the model expects; 1 turns grey images stored as RGB into one channel (grey_rgb.py).
    """
    listed = _scene_listing(path)
    if listed is not None:
        c = card if isinstance(card, DataCard) else (load_card(card) if card else None)
        layout = "geotiff_scenes"
    else:
        path = Path(path)
        c, layout = resolve_card(path, card, layout, image_size, tile_size)
    classes = classes if classes is not None else (c.classes if c else None)
    bands_names = c.band_names if c else None
    channels = c.channels if c else None
    if nodata is None and c is not None:
        nodata = c.nodata
    exts = list(extensions) if extensions is not None else list(DEFAULT_EXTENSIONS)

    if layout == "npz":
        file = _npz_file(path)
        dataset: Any = NpzDataset(file, image_size, split=split, labeled=labeled, classes=classes, channels=channels)
    elif layout == "segmentation":
        spec = c.segmentation if c and c.segmentation else None
        root = _split_root(path, split, lambda p: is_segmentation_folder(p))
        dataset = SegmentationDataset(
            root, image_size,
            mask_suffix=mask_suffix if mask_suffix is not None else (spec.suffix if spec else None),
            mapping=mask_mapping if mask_mapping is not None else (spec.mapping if spec else None),
            classes=spec.classes if spec else None,
            images_dir=spec.images_dir if spec else "images", masks_dir=spec.masks_dir if spec else "masks",
            bands=bands, band_names=bands_names, channels=channels, skip_bad=skip_bad, nodata=nodata,
        )
    elif layout == "geotiff_scenes":
        if labeled:
            raise UserError(f"{path}: whole scenes carry no labels; use an image folder or a label CSV")
        if split not in (None, "all"):
            raise UserError(f"{path}: scenes have no splits (got split {split!r})")
        if listed is not None:
            scenes = listed
        else:
            scenes = [path] if path.is_file() else [p for p in find_images(path, TIFF_SUFFIXES)]
        size = tile_size or image_size or (c.tile_size if c else None)
        if size is None:
            raise UserError(f"{path}: tiling scenes needs a tile size (--tile-size or --image-size)")
        dataset = SceneDataset(
            scenes, size, stride, image_size=image_size, bands=bands, band_names=bands_names,
            min_valid=0.9 if min_valid is None else min_valid, nodata=nodata, channels=channels,
            skip_bad=skip_bad,
        )
    else:
        files, file_labels, classes, root = _image_files(path, split, labels, labeled, classes, c, exts)
        dataset = ImageFolderDataset(
            root, image_size, labeled=labeled, extensions=exts, skip_bad=skip_bad, files=files,
            labels=file_labels if labeled else None, classes=classes, bands=bands, band_names=bands_names,
            channels=channels, nodata=nodata,
        )
        if min_valid:
            dataset = drop_invalid_tiles(dataset, min_valid, nodata)
    if not getattr(dataset, "band_names", None) and c and c.band_names and len(c.band_names) == dataset.in_chans:
        dataset.band_names = list(c.band_names)
    use_one_channel_if_grey(dataset, want_channels, path)
    dataset.card = c
    dataset.layout = layout
    if cache == "auto" and isinstance(dataset, NpzDataset):
        cache = False  # the arrays are in memory already
    if cache == "auto" and image_size is not None:
        need, budget = cached_size(dataset), cache_budget()
        cache = need <= budget
        if not cache:
            log.info("reading from disk: %.1f GiB of decoded images exceed the %.1f GiB cache budget",
                     need / 2**30, budget / 2**30)
    if cache is True:
        if image_size is None:
            raise UserError("caching in memory needs a fixed image size")
        dataset = InMemoryDataset(dataset)
    return dataset


def declares_splits(path: str | Path, card: DataCard | None, layout: str) -> bool:
    """Whether the data declare a train/test split (split folders, a card's split files, an npz's arrays)."""
    if _scene_listing(path) is not None:
        return False
    path = Path(path)
    if layout == "npz":
        return True
    if card is not None and card.split_files:
        return True
    return path.is_dir() and bool(split_folders(path))


def _scene_listing(path: str | Path) -> list | None:
    """Scenes named by a URL or a ``.txt`` list of scenes; None for anything else (a local dataset)."""
    text = str(path)
    if is_url(text):
        return scene_list([text])
    if text.lower().endswith(".txt") and Path(text).is_file():
        scenes = scene_list([text])
        raster = TIFF_SUFFIXES | {".vrt", ".jp2"}
        if all(is_url(s) or Path(s).suffix.lower() in raster for s in scenes):  # else: not a scene list
            return scenes
    return None


def resolve_card(
    path: str | Path,
    card: str | Path | DataCard | None | bool = None,
    layout: str = "auto",
    image_size: int | None = None,
    tile_size: int | None = None,
) -> tuple[DataCard | None, str]:
    """The data card to use (given, detected, or None) and the layout, from a cheap look at ``path``."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"data folder not found: {path}")
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r}; choose one of: {', '.join(LAYOUTS)}")
    chosen: DataCard | None = None
    if isinstance(card, DataCard):
        chosen = card
    elif card:
        chosen = load_card(card)
    if chosen is not None and chosen.text_only:
        log.info("card %r is text-only: it documents the data but reads them with the generic readers", chosen.name)
    if layout == "auto":
        # the files decide the layout (a card's images/ folder alone is an image folder for pretraining);
        # a card only says whether big GeoTIFFs are scenes to tile
        layout = _detect_layout(path, image_size, tile_size)
        if layout == "geotiff_tiles" and chosen is not None and chosen.layout == "geotiff_scenes":
            layout = "geotiff_scenes"
    if card is None and chosen is None:
        chosen = _auto_card(path, layout)
    return chosen, layout


def _detect_layout(path: Path, image_size: int | None, tile_size: int | None) -> str:
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return "npz"
        if suffix in TIFF_SUFFIXES or suffix in (".vrt", ".jp2"):
            return "geotiff_scenes"
        raise UserError(f"{path}: cannot read a single {suffix or 'extensionless'} file; expected a folder, "
                        "an .npz archive or a GeoTIFF scene")
    splits = split_folders(path)
    if is_segmentation_folder(path) or (splits and is_segmentation_folder(splits["train"])):
        return "segmentation"
    if len(list(path.glob("*.npz"))) == 1 and not any(p.is_dir() for p in path.iterdir()):
        return "npz"
    first = first_image(path)
    if first.suffix.lower() in TIFF_SUFFIXES:
        if tile_size is not None:
            return "geotiff_scenes"
        info = probe_image(first)
        if image_size and min(info.height, info.width) >= SCENE_FACTOR * image_size:
            log.info("%s is %d×%d px: tiling the GeoTIFFs into %d-px windows (layout geotiff_scenes)",
                     first.name, info.width, info.height, image_size)
            return "geotiff_scenes"
        return "geotiff_tiles"
    return "image_folder"


def _auto_card(path: Path, layout: str) -> DataCard | None:
    """Detect a built-in card from a cheap look at the data (one header, the folder names)."""
    try:
        if layout == "npz":
            file = _npz_file(path)
            return detect_card(file, layout, channels=-1, dtype="", class_names=[])
        root = split_folders(path).get("train", path) if path.is_dir() else path
        if layout == "segmentation":
            first = first_image(root / "images")
        elif path.is_dir():
            first = first_image(root)
        else:
            first = path
        info = probe_image(first)
        class_names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    except UserError:
        return None  # the dataset itself will report the problem with the full message
    return detect_card(path if path.is_dir() else path, layout, info.channels, info.dtype, class_names)


def _npz_file(path: Path) -> Path:
    if path.is_file():
        return path
    found = sorted(path.glob("*.npz"))
    if len(found) != 1:
        raise UserError(f"{path}: expected one .npz archive, found {len(found)}")
    return found[0]


def _split_root(path: Path, split: str | None, ok) -> Path:  # noqa: ANN001
    splits = split_folders(path)
    if not splits:
        if split not in (None, "all"):
            raise UserError(f"{path}: no {split}/ folder (splits are recognised as train/ + test/ subfolders)")
        return path
    if split == "all":
        raise UserError(f"{path}: has {'/, '.join(splits)}/ folders; choose one split")
    name = split or "train"
    if name not in splits:
        raise UserError(f"{path}: no {name}/ folder (has: {', '.join(splits)})")
    if split is None:
        log.info("using %s/ (the declared training split); pass a split to choose another", name)
    if not ok(splits[name]):
        raise UserError(f"{splits[name]}: not the same layout as the other split folders")
    return splits[name]


def _image_files(
    path: Path, split: str | None, labels: str | Path | None, labeled: bool,
    classes: Sequence[str] | None, card: DataCard | None, exts: list[str],
) -> tuple[list[Path], list[int] | None, Sequence[str] | None, Path]:
    """Files (and labels) of an image folder for a split: a label CSV, a card split file, or folders."""
    if labels is not None:
        table = read_label_csv(labels, path, classes, split=split if split not in (None, "all") else None)
        return table.files, table.labels, table.classes, path
    split_file = _card_split_file(path, split, card)
    if split_file is not None:
        table = read_label_csv(split_file, path, classes)
        return table.files, table.labels, table.classes, path
    if split == "all" and not (labeled and split_folders(path)):
        root = path  # every image under every split folder (unlabeled use)
    else:
        root = _split_root(path, split, lambda p: True)
    files = drop_masks_beside_images(find_images(root, exts))
    if labeled:
        from .labels import class_of, index_labels

        names = [class_of(p, root) for p in files]
        file_labels, classes = index_labels(names, classes, str(root))
        return files, file_labels, classes, root
    return files, None, classes, root


def _card_split_file(path: Path, split: str | None, card: DataCard | None) -> Path | None:
    if card is None or not card.split_files or split == "all":
        return None
    name = split or "train"
    if name not in card.split_files:
        if split is not None:
            raise UserError(f"card {card.name!r} declares no split {name!r} (has: {', '.join(card.split_files)})")
        return None
    file = (path / card.split_files[name]).resolve()
    if file.is_file():
        if split is None:
            log.info("using the %s split of card %r: %s", name, card.name, file)
        return file
    if split is not None:
        raise UserError(f"split {name!r} of card {card.name!r} needs {file} (not found)")
    log.info("card %r: split file %s not found; using every image under %s", card.name, file, path)
    return None
