"""A data card stub (``card.yaml`` + ``stats.json``) for a shard folder, so ``pretrain --data DIR`` finds the
value scaling and normalisation statistics the way it does for a dataset with a built-in card.

The statistics are accumulated while packing (``BandStats.update`` as ``write_shards``' ``on_image``) and
only over training images: a packed test split gets a card without statistics. The card says which split
the statistics describe. It is a stub: edit title, description and source before publishing it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, get_args

from ...config import ScalingSpec, save_yaml_atomic
from ..cards import CARD_FILE, DataCard, Layout
from ..stats import BandStats, stats_document, write_stats
from .index import ShardIndex

STATS_NAME = "stats.json"


def write_card_stub(
    out: str | Path,
    index: ShardIndex,
    stats: BandStats | None,
    *,
    scaling: ScalingSpec,
    source_card: DataCard | None = None,
) -> Path:
    """Write ``out/card.yaml`` (and ``out/stats.json`` when ``stats`` holds training images); return the card."""
    out = Path(out)
    shape = index.shape
    have_stats = stats is not None and stats.images > 0
    if have_stats:
        write_stats(stats_document(stats, scaling, index.band_names, out.name), out / STATS_NAME)
    card: dict[str, Any] = {
        "name": out.name,
        "title": f"shards of {index.source}",
        "layout": index.layout if index.layout in get_args(Layout) else "image_folder",
        "task": "segmentation" if index.has_masks else ("classification" if index.classes else "pretraining"),
        "modality": source_card.modality if source_card else "",
        "description": f"{index.total} samples in {len(index.shards)} webdataset shard(s) (index.json), packed "
                       f"from {index.source} ({index.split}) by `byol-transfer prepare shards`.",
        "channels": index.channels,
        "dtype": index.dtype,
        "tile_size": shape[1] if shape and shape[1] == shape[2] else None,
        "band_names": index.band_names or None,
        "rgb_bands": source_card.rgb_bands if source_card else None,
        "nodata": stats.nodata if stats is not None else (source_card.nodata if source_card else None),
        "scaling": {k: v for k, v in dataclasses.asdict(scaling).items() if v is not None},
        "classes": index.classes,
        "labels": "masks" if index.has_masks else (source_card.labels if source_card else "none"),
        "stats": STATS_NAME if have_stats else None,
        "notes": (f"stats.json: computed while packing, over the {index.split} ({stats.images} images)."
                  if have_stats else f"No statistics: the packed images ({index.split}) are not training images."),
        "source": {"packed_from": index.source, "card": source_card.name if source_card else None},
    }
    if index.has_masks:
        seg = source_card.segmentation if source_card and source_card.segmentation else None
        card["segmentation"] = dataclasses.asdict(seg) if seg else {"classes": index.classes}
    path = out / CARD_FILE
    save_yaml_atomic(card, path)
    return path
