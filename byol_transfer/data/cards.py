"""Data cards: ``datasets/<name>/card.yaml`` describes a known dataset and configures the readers.

A card names the layout, bands (in file order), value scaling, classes, mask mapping, splits and where to
get the data; ``stats.json`` beside it holds statistics computed from the real data with
``byol-transfer stats``. Cards are YAML only (no code), loaded strictly like every other config: an
unknown key is an error naming the file. Text-only cards describe data the readers cannot take as
distributed (they say how to convert it) and carry no statistics.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Union

from ..config import ScalingSpec, from_dict, read_yaml
from ..errors import UserError

log = logging.getLogger(__name__)

CARD_FILE = "card.yaml"

Layout = Literal["image_folder", "geotiff_tiles", "geotiff_scenes", "npz", "segmentation", "dicom_folder"]


@dataclass
class MaskSpec:
    """Segmentation pairs: where images and masks live and what mask values mean."""

    images_dir: str = "images"
    masks_dir: str = "masks"
    suffix: str = ""  # mask stem = image stem + suffix, e.g. "_mask"
    mapping: Union[dict[str, Any], None] = None  # stored value (int or "R,G,B") → class index
    classes: Union[list[str], None] = None


@dataclass
class DetectSpec:
    """When a card is picked without ``--card``: every given condition must hold."""

    filename: Union[str, None] = None  # a glob on the --data name (an npz file or folder name)
    classes: bool = False  # the class subfolders must be exactly the card's classes
    channels: bool = True  # the band count must equal the card's
    dtype: bool = True  # the pixel type must equal the card's


@dataclass
class DataCard:
    name: str
    title: str
    layout: Layout
    task: Literal["classification", "segmentation", "pretraining"] = "classification"
    modality: str = ""
    description: str = ""
    channels: Union[int, None] = None
    dtype: Union[str, None] = None
    tile_size: Union[int, None] = None  # native image size (square tiles) or None when sizes vary
    band_names: Union[list[str], None] = None  # in file order
    rgb_bands: Union[list[str], None] = None  # for previews (false colour composites)
    nodata: Union[float, None] = None
    scaling: ScalingSpec = field(default_factory=ScalingSpec)
    classes: Union[list[str], None] = None
    labels: Literal["subfolder", "csv", "npz", "masks", "none"] = "none"
    splits: dict[str, Any] = field(default_factory=dict)  # split → description
    split_files: dict[str, str] = field(default_factory=dict)  # split → label CSV (relative to --data)
    # split → committed list of image names (relative to the CARD's folder; see split_lists.py)
    split_lists: dict[str, str] = field(default_factory=dict)
    segmentation: Union[MaskSpec, None] = None
    detect: Union[DetectSpec, None] = None
    recipe: Union[str, None] = None  # suggested augmentation recipe
    expected: dict[str, Any] = field(default_factory=dict)  # facts a reader check can verify
    source: dict[str, Any] = field(default_factory=dict)  # url, licence, citation, how to get it
    notes: str = ""
    text_only: bool = False
    stats: Union[str, None] = "stats.json"  # relative to the card's folder
    path: Union[str, None] = None  # filled in when loaded: the card file

    @property
    def folder(self) -> Path:
        return Path(self.path).parent if self.path else Path(".")

    @property
    def stats_path(self) -> Path | None:
        """The card's stats.json when it exists."""
        if not self.stats:
            return None
        candidate = self.folder / self.stats
        return candidate if candidate.is_file() else None

    def split_list_path(self, split: str) -> Path:
        """The committed list of ``split`` (``split_lists`` paths are relative to the card's folder)."""
        return self.folder / self.split_lists[split]

    def resolved_scaling(self) -> ScalingSpec:
        """The card's scaling with a relative ``stats`` path made absolute (percentile_clip)."""
        spec = self.scaling
        if spec.stats and not Path(spec.stats).is_absolute():
            spec = replace(spec, stats=str(self.folder / spec.stats))
        return spec


def card_dirs() -> list[Path]:
    """Where built-in cards live: the checkout's ``datasets/`` or the copy packed into the wheel."""
    package = Path(__file__).resolve().parents[1]
    return [p for p in (package.parent / "datasets", package / "_datasets") if p.is_dir()]


def list_cards() -> list[DataCard]:
    seen: dict[str, DataCard] = {}
    for folder in card_dirs():
        for path in sorted(folder.glob(f"*/{CARD_FILE}")):
            seen.setdefault(path.parent.name, load_card(path))
    return [seen[name] for name in sorted(seen)]


def load_card(name_or_path: str | Path) -> DataCard:
    """A card by name (``eurosat_ms``), by folder, or by ``card.yaml`` path."""
    path = Path(name_or_path)
    if path.is_dir():
        path = path / CARD_FILE
    if not path.is_file():
        for folder in card_dirs():
            candidate = folder / str(name_or_path) / CARD_FILE
            if candidate.is_file():
                path = candidate
                break
        else:
            names = sorted({p.parent.name for d in card_dirs() for p in d.glob(f"*/{CARD_FILE}")})
            raise UserError(
                f"unknown data card {str(name_or_path)!r}; choose one of: {', '.join(names)} or a card.yaml path"
            )
    data = read_yaml(path)
    data["path"] = str(path)
    card = from_dict(DataCard, data, str(path))
    _validate(card)
    return card


def _validate(card: DataCard) -> None:
    where = card.path
    if card.band_names and card.channels and len(card.band_names) != card.channels:
        raise UserError(f"{where}: {len(card.band_names)} band_names for {card.channels} channels")
    for band in card.rgb_bands or []:
        if card.band_names and band not in card.band_names:
            raise UserError(f"{where}: rgb_bands names {band!r}, which is not in band_names")
    for split, rel in card.split_lists.items():
        if Path(rel).is_absolute() or not card.split_list_path(split).is_file():
            raise UserError(f"{where}: split_lists.{split} {rel!r} is not a file relative to the card's folder")
    if card.split_lists and card.split_files:
        raise UserError(f"{where}: declare split_files (label CSVs beside the data) or split_lists, not both")
    if card.layout == "segmentation" and card.segmentation is None:
        raise UserError(f"{where}: layout 'segmentation' needs a 'segmentation' section")


def detect_card(path: Path, layout: str, channels: int, dtype: str, class_names: list[str]) -> DataCard | None:
    """The one built-in card whose detection rules match the data, or None (no card, or ambiguous)."""
    matches = []
    for card in list_cards():
        rule = card.detect
        if rule is None or card.text_only or card.layout != layout:
            continue
        if rule.filename and not fnmatch.fnmatch(path.name.lower(), rule.filename.lower()):
            continue
        if rule.channels and card.channels is not None and card.channels != channels:
            continue
        if rule.dtype and card.dtype is not None and card.dtype != dtype:
            continue
        if rule.classes and sorted(card.classes or []) != sorted(class_names):
            continue
        matches.append(card)
    if len(matches) == 1:
        log.info("data card %r detected from the layout of %s (use --card to choose another)", matches[0].name, path)
        return matches[0]
    if len(matches) > 1:
        log.info("several data cards fit %s (%s); pass --card", path, ", ".join(c.name for c in matches))
    return None
