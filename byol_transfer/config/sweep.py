"""The static sections of the ``label-efficiency`` and ``segment`` schemas.

Each command's full schema adds the settings of its evaluators, assembled by the transfer layer from
the evaluator registry (``transfer/commands/``, ``config/compose.py``): ``settings.finetune.epochs``,
``settings.knn.ks``, ... for label-efficiency; ``finetune.*`` and ``semisup.*`` for segment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .data import DataSource
from .schema import MAX_IMAGE_SIZE, bounded, device_problem


@dataclass
class TestSource:
    """Where the test split comes from; nothing: the data's own test split, else a seeded hold-out."""

    path: Union[str, None] = None  # separate labelled test data
    labels: Union[str, None] = None  # its label list (relative to test.path, or to data.path without it)


@dataclass
class Inits:
    """What is compared: ``NAME=WEIGHTS`` (a BYOL export, any local timm weights file) or ``random``."""

    backbones: list[str] = bounded(default_factory=list, min_len=1)
    recipe: Union[str, None] = None  # scaling/normalisation for random init and sidecar-less weights
    # weights files for other bands: how their first conv is filled, as pretrain's --band-map ("repeat" or
    # TARGET=SOURCE pairs, e.g. "B04=red,B03=green,B02=blue"); None: by band names, others get the mean filter
    band_map: Union[str, None] = None


@dataclass
class Chosen:
    """Written by the run into config.yaml (a value given is ignored and written again): what it decided."""

    image_size: Union[int, None] = None  # the size it evaluated at
    image_size_from: Union[str, None] = None  # why: the flag, the export sidecars' pretraining size, the data's
    band_mappings: dict[str, str] = field(default_factory=dict)  # init → its first conv's mapping (adapted only)


@dataclass
class ClassificationModel:
    arch: Union[str, None] = None  # timm architecture for random init and sidecar-less weights


@dataclass
class ClassificationGrid:
    fractions: list[float] = bounded(default_factory=lambda: [0.01, 0.1, 1.0], min_len=1, gt=0, le=1)
    seeds: int = bounded(3, ge=1)  # labelled-subset seeds 0 … N-1
    val_fraction: float = bounded(0.2, gt=0, lt=1)  # of each labelled subset, for model selection
    test_fraction: float = bounded(0.2, gt=0, lt=1)  # hold-out size when there is no test set


@dataclass
class LabelEfficiencyConfig:
    data: DataSource = field(default_factory=DataSource)
    test: TestSource = field(default_factory=TestSource)
    # square size images are resized to; None: the first export's pretraining size, else the data's own
    image_size: Union[int, None] = bounded(None, ge=8, le=MAX_IMAGE_SIZE, note="px per side")
    inits: Inits = field(default_factory=Inits)
    model: ClassificationModel = field(default_factory=ClassificationModel)
    grid: ClassificationGrid = field(default_factory=ClassificationGrid)
    evaluators: list[str] = bounded(default_factory=lambda: ["knn", "linear", "finetune"], min_len=1)
    semi_supervised: bool = False  # also run the semisup evaluator (fine-tuning + FixMatch)
    unlabeled_data: Union[str, None] = None  # semisup's pool; None: the --data images outside each subset
    device: str = bounded("auto", check=device_problem)
    title: Union[str, None] = None
    chosen: Chosen = field(default_factory=Chosen)


@dataclass
class SegmentationData:
    path: str = ""  # images/ + masks/ (or train/ + test/ of those)
    card: Union[str, None] = None
    bands: Union[str, None] = None
    skip_bad: bool = False
    mask_suffix: Union[str, None] = None  # what mask names add to their image's stem; None: detected
    mask_mapping: Union[list[str], None] = None  # VALUE=CLASS items, e.g. ["0=0", "255=1"] or ["255,0,0=1"]
    num_classes: Union[int, None] = bounded(None, ge=2)  # when no card declares them; None: max mask value + 1
    # resize (shorter side) + centre-crop to this square size; None: the images' own (one size, multiple of 32)
    image_size: Union[int, None] = bounded(None, ge=8, le=MAX_IMAGE_SIZE, note="px per side")


@dataclass
class SegmentationModel:
    arch: str = "unet"  # smp architecture
    encoder: Union[str, None] = None  # timm name; None: the export's architecture


@dataclass
class SegmentationGrid:
    fractions: list[float] = bounded(default_factory=lambda: [1.0], min_len=1, gt=0, le=1)
    seeds: int = bounded(1, ge=1)
    val_fraction: float = bounded(0.2, gt=0, lt=1)
    # a seeded hold-out of this size; None: the data's test split (test.path, test/, a card's split
    # lists), else 0.2. Given, it wins over a card's split lists (not over test.path or test/).
    test_fraction: Union[float, None] = bounded(None, gt=0, lt=1)


@dataclass
class SegmentConfig:
    data: SegmentationData = field(default_factory=SegmentationData)
    test: TestSource = field(default_factory=TestSource)  # test.path: a separate images/ + masks/ folder
    inits: Inits = field(default_factory=Inits)
    model: SegmentationModel = field(default_factory=SegmentationModel)
    grid: SegmentationGrid = field(default_factory=SegmentationGrid)
    semi_supervised: bool = False  # also train each cell with a mean teacher (the semisup evaluator)
    unlabeled_data: Union[str, None] = None
    save_all_models: bool = False  # every fraction × seed model; default: the largest fraction, first seed
    device: str = bounded("auto", check=device_problem)
    title: Union[str, None] = None
    chosen: Chosen = field(default_factory=Chosen)
