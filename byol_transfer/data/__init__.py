"""Readers for real data: image folders, GeoTIFF tiles and scenes, MedMNIST npz, DICOM, labels, masks.

``formats/`` decodes one file per format, ``datasets/`` holds one dataset class per layout, ``discover.py``
finds a path's layout and data card once, and :func:`build_dataset` (build.py) puts them together.

Every dataset yields ``{"image": C×H×W tensor in its stored dtype, "label"?: int, "mask"?: H×W long,
"meta": {...}}`` and exposes ``in_chans`` and ``dtype``; :func:`build_dataset` picks the right one.
"""

from .build import build_dataset
from .cards import DataCard, list_cards, load_card
from .datasets.image_folder import ImageFolderDataset
from .datasets.npz import NpzDataset
from .datasets.scenes import SceneDataset
from .datasets.segmentation import SegmentationDataset
from .stats import compute_stats

__all__ = [
    "DataCard",
    "ImageFolderDataset",
    "NpzDataset",
    "SceneDataset",
    "SegmentationDataset",
    "build_dataset",
    "compute_stats",
    "list_cards",
    "load_card",
]
