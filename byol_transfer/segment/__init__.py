"""Segmentation transfer: smp models with a BYOL-pretrained encoder, fine-tuning, label efficiency, prediction.

- :mod:`.smp_transfer`: build an smp model, load an export into its encoder strictly, save/load models;
- :mod:`.train_seg`: fine-tuning (Dice + CE, encoder LR multiplier, frozen encoder) and IoU/Dice;
- :mod:`.label_efficiency`: inits × seeds × fractions of the masks → results.csv / report.md / plot;
- :mod:`.predict`: tiled, overlap-blended prediction to GeoTIFF/PNG masks.
"""

from .smp_transfer import (
    create_segmentation_model,
    load_export_into_encoder,
    load_segmentation_model,
    save_segmentation_model,
)
from .train_seg import SegTrainSettings, segmentation_metrics, train_segmentation

__all__ = [
    "SegTrainSettings",
    "create_segmentation_model",
    "load_export_into_encoder",
    "load_segmentation_model",
    "save_segmentation_model",
    "segmentation_metrics",
    "train_segmentation",
]
