"""The ``pretrain`` schema: a recipe plus model, optimiser, EMA, data, training and monitor sections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from .recipe import RecipeConfig
from .schema import MAX_IMAGE_SIZE, bounded, device_problem

@dataclass
class ModelConfig:
    backbone: str = "resnet18"
    in_chans: Union[int, None] = bounded(None, ge=1)  # None: taken from the data
    projector_hidden: int = bounded(4096, ge=1)
    projector_out: int = bounded(256, ge=1)
    predictor_hidden: int = bounded(4096, ge=1)
    # "joint": both views through each network as one 2B batch (BatchNorm statistics over both views, one
    # pass); "separate": one pass per view, as the official BYOL code does (statistics per view)
    view_batchnorm: Literal["joint", "separate"] = "joint"
    # start the online and target encoders from these weights (a BYOL export, a timm .safetensors, or a
    # .pth/.pt state dict); strict except the first conv, which models/weights.py adapts to the data's bands
    init: Union[str, None] = None
    band_map: Union[str, None] = None  # "repeat" or TARGET=SOURCE pairs ("B04=red,B01=mean"); None: by band names
    # written by the run (a value given is checked, so re-running a config.yaml refuses a changed file):
    init_sha256: Union[str, None] = None
    init_band_mapping: Union[str, None] = None  # what the first conv got, as a --band-map; None: loaded as is


@dataclass
class OptimConfig:
    name: Literal["lars", "adamw", "sgd"] = "lars"
    base_lr: float = bounded(0.2, gt=0)  # the learning rate is base_lr × batch_size / 256 (BYOL, LARS)
    weight_decay: float = bounded(1.5e-6, ge=0)
    momentum: float = bounded(0.9, ge=0, le=1)
    trust_coefficient: float = bounded(0.001, gt=0)  # LARS η
    betas: list[float] = bounded(default_factory=lambda: [0.9, 0.999], length=2, ge=0, lt=1)  # AdamW
    warmup_fraction: float = bounded(0.05, ge=0, le=1)  # of all optimiser steps, linear from 0
    final_lr_fraction: float = bounded(0.0, ge=0, le=1)  # cosine decays to base × this


@dataclass
class EMAConfig:
    base_tau: float = bounded(0.996, ge=0, le=1)  # τ goes from this to 1 on a cosine over all optimiser steps


@dataclass
class DataConfig:
    path: str = ""
    # a data card (name or card.yaml): band names, value scaling, stats, splits; None: detected from the layout.
    # A config key, so that config.yaml records which card a run used and --resume reads the data the same way
    card: Union[str, None] = None
    bands: Union[str, None] = None  # bands to keep: 1-based numbers or names ("4,3,2", "B04,B03,B02"); None: all
    image_size: int = bounded(224, ge=8, le=MAX_IMAGE_SIZE, note="px per side")
    batch_size: int = bounded(256, ge=1)
    num_workers: int = bounded(2, ge=0)
    extensions: Union[list[str], None] = None  # None: every format the readers know (incl. DICOM)
    shuffle_buffer: int = bounded(1000, ge=1)  # streamed shards (data/shards/): samples held per process for shuffling
    skip_bad: bool = False  # unreadable images are skipped and counted instead of stopping the run


@dataclass
class TrainConfig:
    epochs: int = bounded(100, ge=1)
    # caps the run (None: no cap; 0 is an error, not "no cap"); schedules span min(epochs·steps/epoch, max_steps)
    max_steps: Union[int, None] = bounded(None, ge=1)
    # plan the total steps so that warmup, the cosine LR and τ end when this many seconds of training have
    # passed (measured over the first steps; train/budget.py); epochs and max_steps stay upper limits
    time_budget_s: Union[float, None] = bounded(None, gt=0)
    seed: int = bounded(0, ge=0)
    device: str = bounded("auto", check=device_problem)  # auto | cpu | cuda | cuda:N | mps
    # auto: bf16 where this machine runs it natively and faster (GPU with bf16; CPU with AMX / AVX-512-BF16,
    # confirmed by a timed matmul), else fp32 (train/precision.py); the choice and the CPU are logged at start
    # and recorded in run.json. The default since issue 15: on AVX2-only CPUs it is fp32, as before
    precision: Literal["fp32", "bf16", "auto"] = "auto"
    channels_last: bool = False
    compile: bool = False  # torch.compile the training step's model (first steps compile; needs a C++ compiler)
    checkpoint_every: int = bounded(1000, ge=1)  # optimiser steps; a checkpoint is also written at the end
    log_every: int = bounded(10, ge=1)
    collapse_warn_below: float = bounded(0.05, ge=0)  # warn when std(normalised projections)·√d falls below this


@dataclass
class MonitorConfig:
    """Online k-NN accuracy of the encoder on a small labelled set during pretraining ("" = off)."""

    data: str = ""  # labelled images: class subfolders, an .npz, or a folder + ``labels`` CSV
    labels: Union[str, None] = None  # a ``path,label`` CSV / split file for ``data``
    card: Union[str, None] = None  # data card of ``data`` (default: detected from the layout)
    every: int = bounded(100, ge=1)  # optimiser steps between checks (and one at the end)
    k: int = bounded(20, ge=1)
    query_fraction: float = bounded(0.5, gt=0, lt=1)  # stratified: this share is classified, the rest is the k-NN bank
    max_images: int = bounded(2000, ge=2)  # a seeded stratified sample of at most this many, so a check costs seconds


@dataclass
class PretrainConfig:
    recipe: RecipeConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
