"""One entry point from ``--data PATH [--card NAME]`` to a dataset: discover the layout, apply the card.

discover.py says what the path holds (once; a caller that discovered already passes its result as
``found``); this module turns that into the dataset of the layout: npz → :class:`NpzDataset`, scenes →
:class:`SceneDataset`, images/ + masks/ → :class:`SegmentationDataset`, any other folder →
:class:`ImageFolderDataset`.

Splits: ``train/`` + ``test/`` subfolders, a card's split files (label CSVs beside the data), a card's
split lists (committed image-name lists beside the card, for segmentation pairs; split folders win), or
an npz's own arrays. ``split=None`` means the training split when the data declare one, else everything — so
unlabeled pretraining never sees a declared test split unless asked (``split="all"``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from torch.utils.data import Dataset

from ..errors import UserError
from .bands import BandSpec
from .cards import DataCard
from .datasets.cache import InMemoryDataset, cache_budget, cached_size
from .datasets.grey_rgb import use_one_channel_if_grey
from .datasets.image_folder import ImageFolderDataset
from .datasets.npz import NpzDataset
from .datasets.scenes import SceneDataset
from .datasets.segmentation import SegmentationDataset, is_segmentation_folder
from .datasets.tile_filter import drop_invalid_tiles
from .discover import Discovery, discover, npz_file
from .formats.geotiff import TIFF_SUFFIXES
from .image_files import DEFAULT_EXTENSIONS, drop_masks_beside_images, find_images
from .labels import class_of, index_labels, read_label_csv
from .split_lists import file_sha256, lists_fit, read_split_list

log = logging.getLogger(__name__)


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
    found: Discovery | None = None,
) -> Dataset:
    """A dataset of sample dicts (see the package docs) with ``.in_chans``, ``.dtype``, ``.card``, ``.layout``
    and ``.discovery`` (what discover.py found).

    ``card``: a card name, a card.yaml path or a :class:`DataCard`; ``None`` detects one from the layout
    where the data match exactly one card; ``False`` uses none. Explicit arguments override the card.
    ``labels``: a ``path,label`` CSV (paths relative to ``path``). ``image_size=None`` keeps native sizes.
    ``cache=True`` decodes everything once and serves it from memory (see datasets/cache.py); ``cache="auto"`` does
    so when the decoded images fit in 4 GiB and a quarter of the machine's memory. ``want_channels``: the
    channel count the model expects; 1 turns grey images stored as RGB into one channel (datasets/grey_rgb.py).
    ``found``: the :func:`~.discover.discover` result for this ``path`` when the caller has it already
    (then ``card``, ``layout`` and ``tile_size`` played their part there and the folder is not looked at again).
    """
    if found is None:
        found = discover(path, card, layout, image_size, tile_size)
    c, layout, listed = found.card, found.layout, found.scenes
    if listed is None:
        path = Path(path)
    classes = classes if classes is not None else (c.classes if c else None)
    bands_names = c.band_names if c else None
    channels = c.channels if c else None
    if nodata is None and c is not None:
        nodata = c.nodata
    exts = list(extensions) if extensions is not None else list(DEFAULT_EXTENSIONS)

    if layout == "npz":
        file = found.npz_file or npz_file(path)  # the latter names the problem when there is no one archive
        dataset: Any = NpzDataset(file, image_size, split=split, labeled=labeled, classes=classes, channels=channels)
        record = {"split": dataset.split, "from": "npz arrays" if dataset.split == "all"
                  else f"npz {dataset.split}_* arrays"}
    elif layout == "segmentation":
        spec = c.segmentation if c and c.segmentation else None
        only, record = _card_split_list(path, found.splits, split, c)
        root = path if only is not None else _split_root(path, found.splits, split, lambda p: is_segmentation_folder(p))
        dataset = SegmentationDataset(
            root, image_size,
            mask_suffix=mask_suffix if mask_suffix is not None else (spec.suffix if spec else None),
            mapping=mask_mapping if mask_mapping is not None else (spec.mapping if spec else None),
            classes=spec.classes if spec else None,
            images_dir=spec.images_dir if spec else "images", masks_dir=spec.masks_dir if spec else "masks",
            bands=bands, band_names=bands_names, channels=channels, skip_bad=skip_bad, nodata=nodata,
            only=only, only_source=str(c.split_list_path(record["split"])) if only is not None and c else "",
        )
        record = record or _folder_record(found.splits, split)
    elif layout == "geotiff_scenes":
        if labeled:
            raise UserError(f"{path}: whole scenes carry no labels; use an image folder or a label CSV")
        if split not in (None, "all"):
            raise UserError(f"{path}: scenes have no splits (got split {split!r})")
        if listed is not None:
            scenes = list(listed)
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
        record = {"split": "all", "from": "every window of the scenes"}
    else:
        files, file_labels, classes, root, record = _image_files(
            path, found.splits, split, labels, labeled, classes, c, exts)
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
    dataset.split_record = record  # which split this is and where it came from (stats.json records it)
    dataset.discovery = found
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


def _split_root(path: Path, splits: dict[str, Path], split: str | None, ok) -> Path:  # noqa: ANN001
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
    path: Path, splits: dict[str, Path], split: str | None, labels: str | Path | None, labeled: bool,
    classes: Sequence[str] | None, card: DataCard | None, exts: list[str],
) -> tuple[list[Path], list[int] | None, Sequence[str] | None, Path, dict[str, Any]]:
    """Files (and labels) of an image folder for a split, and where they came from: a label CSV, a card
    split file, or folders."""
    if labels is not None:
        table = read_label_csv(labels, path, classes, split=split if split not in (None, "all") else None)
        record = {"split": split or "all", "from": "label CSV", "path": str(labels), "sha256": file_sha256(Path(labels))}
        return table.files, table.labels, table.classes, path, record
    split_file = _card_split_file(path, split, card)
    if split_file is not None:
        table = read_label_csv(split_file, path, classes)
        name = split or "train"
        record = {"split": name, "from": "card split_files (relative to --data)",
                  "path": card.split_files[name], "sha256": file_sha256(split_file)}  # type: ignore[union-attr]
        return table.files, table.labels, table.classes, path, record
    if split == "all" and not (labeled and splits):
        root = path  # every image under every split folder (unlabeled use)
        record = {"split": "all", "from": "every image" + (" of every split folder" if splits else "")}
    else:
        root = _split_root(path, splits, split, lambda p: True)
        record = _folder_record(splits, split)
    files = drop_masks_beside_images(find_images(root, exts))
    if labeled:
        names = [class_of(p, root) for p in files]
        file_labels, classes = index_labels(names, classes, str(root))
        return files, file_labels, classes, root, record
    return files, None, classes, root, record


def _folder_record(splits: dict[str, Path], split: str | None) -> dict[str, Any]:
    if not splits:
        return {"split": "all", "from": "every image (no split declared)"}
    name = split or "train"
    return {"split": name, "from": f"{name}/ folder"}


def _card_split_list(path: Path, splits: dict[str, Path], split: str | None,
                     card: DataCard | None) -> tuple[list[str] | None, dict[str, Any]]:
    """The image names of a card's committed split list for ``split`` (default: train), and its record.

    Split folders in the data win over the card's lists (they are the data's own split); ``"all"``
    takes every pair; without a split asked for, a folder that is not the card's copy (another image
    count, see split_lists.lists_fit) is read whole."""
    if card is None or not card.split_lists or split == "all":
        return None, {}
    if splits:
        log.info("card %r: the data have %s/ folders; using them, not the card's split lists",
                 card.name, "/, ".join(splits))
        return None, {}
    if split is None and not lists_fit(card, path / (card.segmentation.images_dir if card.segmentation else "images")):
        return None, {}
    name = split or "train"
    if name not in card.split_lists:
        raise UserError(f"card {card.name!r} declares no split list {name!r} (has: {', '.join(card.split_lists)})")
    file = card.split_list_path(name)
    if split is None:
        log.info("using the %s split of card %r: %s", name, card.name, file)
    record = {"split": name, "from": "card split_lists (relative to the card)", "path": card.split_lists[name],
              "sha256": file_sha256(file)}
    return read_split_list(file), record


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
