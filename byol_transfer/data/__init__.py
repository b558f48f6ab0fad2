"""Readers for real data: image folders, GeoTIFF tiles and scenes, MedMNIST npz, DICOM, labels, masks.

Every dataset yields ``{"image": C×H×W tensor in its stored dtype, "label"?: int, "mask"?: H×W long,
"meta": {...}}`` and exposes ``in_chans`` and ``dtype``; :func:`build_dataset` picks the right one.
"""

from .build import build_dataset
from .cards import DataCard, list_cards, load_card
from .image_folder import ImageFolderDataset
from .npz import NpzDataset
from .scenes import SceneDataset
from .segmentation import SegmentationDataset
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
