"""The data section shared by the commands that read a dataset (stats, prepare shards, sweeps, ...).

The same keys mean the same thing everywhere, so ``--set data.card=eurosat_ms`` or a YAML ``data:``
block can be copied from one command's config.yaml to another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass
class DataSource:
    path: str = ""  # folder, .npz archive, GeoTIFF scene (or URL), images/ + masks/ folder
    # data card (name or card.yaml): band names, value scaling, stats, splits; None: detected from the layout
    card: Union[str, None] = None
    labels: Union[str, None] = None  # a path,label CSV / split file choosing and labelling images (relative to path)
    split: Union[str, None] = None  # train, val, test or all; None: the training split where one is declared
    bands: Union[str, None] = None  # bands to keep: 1-based numbers or names, e.g. "4,3,2" or "B04,B03,B02"
    skip_bad: bool = False  # unreadable files are skipped and counted instead of stopping
