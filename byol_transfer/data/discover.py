"""What a ``--data PATH [--card NAME]`` holds, found once: the layout, the data card, the splits.

Layouts, in the order they are recognised:

- a ``.npz`` file (or a folder holding exactly one): MedMNIST-style arrays;
- a GeoTIFF file: one scene tiled on the fly;
- a GeoTIFF/COG URL (``https://``, ``s3://``, ``gs://``) or a ``.txt`` file listing scene paths or URLs:
  scenes read window by window through GDAL (see remote.py);
- a folder with ``images/`` and ``masks/`` (optionally under ``train/``, ``test/``): segmentation pairs;
- a folder of GeoTIFFs larger than 4× the image size on both sides (or ``tile_size`` given): scenes;
- any other folder: image files, GeoTIFF tiles or DICOM slices.

The answer is one frozen :class:`Discovery`, so that ``build_dataset`` and the commands (does the data
declare a test split? how many channels does the first image have?) read it instead of scanning the folder
again. Within one discovery every look at the disk happens once: the split folders are listed once, and
the first image of a folder is found and its header read once, however many questions use them.
Detection reads headers only, never pixels; problems the dataset will report with a fuller message
(an unreadable first file while looking for a card) are left to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from ..errors import UserError
from .cards import DataCard, detect_card, load_card
from .datasets.segmentation import is_segmentation_folder
from .formats.dispatch import probe_image
from .formats.geotiff import TIFF_SUFFIXES
from .formats.npz import npz_splits
from .formats.types import ImageInfo
from .image_files import first_image
from .labels import split_folders
from .remote import is_url, scene_list

log = logging.getLogger(__name__)

LAYOUTS = ("auto", "image_folder", "geotiff_tiles", "geotiff_scenes", "npz", "segmentation", "dicom_folder")

# A GeoTIFF at least this many image sizes wide and high is a scene to tile, not a tile to resize.
SCENE_FACTOR = 4

T = TypeVar("T")


@dataclass(frozen=True)
class Discovery:
    """The result of looking at ``--data`` once (see :func:`discover`)."""

    path: Path | str  # a Path for local data; a URL stays a string
    layout: str
    card: DataCard | None  # given, detected, or None
    scenes: tuple[Path | str, ...] | None = None  # from a URL or a .txt scene list; None for local data
    splits: dict[str, Path] = field(default_factory=dict)  # train/ + test/ (+ val/) folders, or {}
    header: ImageInfo | None = None  # the first image of the training data (None: none, or unreadable)
    npz_file: Path | None = None  # the archive of an npz layout, when there is exactly one
    declares_splits: bool = False  # split folders, a card's split files or lists, or an npz's arrays
    declares_test: bool = False  # a test split of the data's own: test/ folder, card test file/list, npz arrays

    @property
    def train_root(self) -> Path:
        """Where the training images lie: the train/ folder when splits are declared, else the path."""
        return self.splits.get("train", Path(self.path))


def discover(
    path: str | Path,
    card: str | Path | DataCard | None | bool = None,
    layout: str = "auto",
    image_size: int | None = None,
    tile_size: int | None = None,
) -> Discovery:
    """Layout and card of ``path``, a scene URL or list included; see the module docstring.

    ``card``: a card name, a card.yaml path or a :class:`DataCard`; ``None`` detects one from the layout
    where the data match exactly one card; ``False`` uses none. ``image_size``/``tile_size`` decide whether
    big GeoTIFFs are scenes to tile.
    """
    scenes = scene_listing(path)
    if scenes is None:
        return discover_local(Path(path), card, layout, image_size, tile_size)
    chosen = card if isinstance(card, DataCard) else (load_card(card) if card else None)
    return Discovery(path, "geotiff_scenes", chosen, scenes=tuple(scenes))


def discover_local(
    path: Path,
    card: str | Path | DataCard | None | bool = None,
    layout: str = "auto",
    image_size: int | None = None,
    tile_size: int | None = None,
) -> Discovery:
    """Like :func:`discover` for a local file or folder (a ``.txt`` or URL is not taken as a scene list)."""
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
    look = _Look(path)
    if layout == "auto":
        # the files decide the layout (a card's images/ folder alone is an image folder for pretraining);
        # a card only says whether big GeoTIFFs are scenes to tile
        layout = _detect_layout(look, image_size, tile_size)
        if layout == "geotiff_tiles" and chosen is not None and chosen.layout == "geotiff_scenes":
            layout = "geotiff_scenes"
    npz = _quiet(lambda: npz_file(path)) if layout == "npz" else None
    header = None if layout == "npz" else _quiet(lambda: look.header(look.first(_first_root(look, layout))))
    if card is None and chosen is None:
        chosen = _auto_card(look, layout, npz, header)
    splits = look.splits()
    return Discovery(
        path, layout, chosen, splits=splits, header=header, npz_file=npz,
        declares_splits=layout == "npz" or bool(chosen is not None and (chosen.split_files or chosen.split_lists))
        or (path.is_dir() and bool(splits)),
        declares_test=_declares_test(path, layout, chosen, splits, npz),
    )


def resolve_card(
    path: str | Path,
    card: str | Path | DataCard | None | bool = None,
    layout: str = "auto",
    image_size: int | None = None,
    tile_size: int | None = None,
) -> tuple[DataCard | None, str]:
    """(card, layout) of a local ``path``: :func:`discover_local` for callers that need only these two."""
    found = discover_local(Path(path), card, layout, image_size, tile_size)
    return found.card, found.layout


def declares_splits(path: str | Path, card: DataCard | None, layout: str) -> bool:
    """Whether the data declare a train/test split (split folders, a card's split files, an npz's arrays).

    For callers holding a built dataset's card and layout; a :class:`Discovery` carries the same answer.
    """
    if scene_listing(path) is not None:
        return False
    path = Path(path)
    if layout == "npz":
        return True
    if card is not None and (card.split_files or card.split_lists):
        return True
    return path.is_dir() and bool(split_folders(path))


def scene_listing(path: str | Path) -> list | None:
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


def npz_file(path: Path) -> Path:
    """The archive of an npz layout: the file itself, or the one ``.npz`` in a folder."""
    if path.is_file():
        return path
    found = sorted(path.glob("*.npz"))
    if len(found) != 1:
        raise UserError(f"{path}: expected one .npz archive, found {len(found)}")
    return found[0]


class _Look:
    """The disk reads of one discovery, each made at most once: split folders, first images, headers.

    A failed read is remembered too and raised again, so a question asked twice gets the same answer.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._memo: dict[tuple, tuple[bool, object]] = {}

    def _once(self, key: tuple, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            try:
                self._memo[key] = (True, compute())
            except UserError as e:
                self._memo[key] = (False, e)
        ok, value = self._memo[key]
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    def splits(self) -> dict[str, Path]:
        return self._once(("splits",), lambda: split_folders(self.path) if self.path.is_dir() else {})

    def first(self, root: Path) -> Path:
        return self._once(("first", root), lambda: first_image(root) if root.is_dir() else root)

    def header(self, file: Path) -> ImageInfo:
        return self._once(("header", file), lambda: probe_image(file))


def _detect_layout(look: _Look, image_size: int | None, tile_size: int | None) -> str:
    path = look.path
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return "npz"
        if suffix in TIFF_SUFFIXES or suffix in (".vrt", ".jp2"):
            return "geotiff_scenes"
        raise UserError(f"{path}: cannot read a single {suffix or 'extensionless'} file; expected a folder, "
                        "an .npz archive or a GeoTIFF scene")
    splits = look.splits()
    if is_segmentation_folder(path) or (splits and is_segmentation_folder(splits["train"])):
        return "segmentation"
    if len(list(path.glob("*.npz"))) == 1 and not any(p.is_dir() for p in path.iterdir()):
        return "npz"
    first = look.first(path)  # over every split: any image tells whether these are GeoTIFFs
    if first.suffix.lower() in TIFF_SUFFIXES:
        if tile_size is not None:
            return "geotiff_scenes"
        info = look.header(first)
        if image_size and min(info.height, info.width) >= SCENE_FACTOR * image_size:
            log.info("%s is %d×%d px: tiling the GeoTIFFs into %d-px windows (layout geotiff_scenes)",
                     first.name, info.width, info.height, image_size)
            return "geotiff_scenes"
        return "geotiff_tiles"
    return "image_folder"


def _first_root(look: _Look, layout: str) -> Path:
    """Where the first training image is looked for: the train split's (images/) folder, or the file."""
    path = look.path
    root = look.splits().get("train", path) if path.is_dir() else path
    return root / "images" if layout == "segmentation" else root


def _auto_card(look: _Look, layout: str, npz: Path | None, header: ImageInfo | None) -> DataCard | None:
    """Detect a built-in card from a cheap look at the data (one header, the folder names)."""
    path = look.path
    if layout == "npz":
        return detect_card(npz, layout, channels=-1, dtype="", class_names=[]) if npz is not None else None
    if header is None:
        return None  # the dataset itself will report the problem with the full message
    root = look.splits().get("train", path) if path.is_dir() else path
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return detect_card(path, layout, header.channels, header.dtype, class_names)


def _declares_test(path: Path, layout: str, card: DataCard | None, splits: dict[str, Path], npz: Path | None) -> bool:
    if layout == "npz":
        return npz is not None and "test" in (_quiet(lambda: npz_splits(npz)) or [])
    if path.is_dir() and splits:
        return True
    if card and "test" in card.split_lists:
        return True  # committed beside the card (checked when the card loaded)
    return bool(card and "test" in card.split_files and (path / card.split_files["test"]).is_file())


def _quiet(compute: Callable[[], T]) -> T | None:
    """``compute()``, or None when it raises a UserError: the dataset reports that problem itself."""
    try:
        return compute()
    except UserError:
        return None
