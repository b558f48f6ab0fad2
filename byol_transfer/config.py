"""Configuration: YAML → dataclasses, strictly.

Every YAML key maps 1:1 onto a dataclass field; an unknown key, a missing required key or a value of the
wrong type is a ``UserError`` naming the file and the dotted key. ``--set a.b=value`` overrides are applied
to the plain dict before conversion, so they are checked the same way.

Ranges are declared on the fields themselves (``bounded(1, ge=1)`` puts ``{"ge": 1}`` in the field's
metadata) and checked by :func:`from_dict` in the same pass, so a value is range-checked where the schema
is defined and nowhere else: ``'train.max_steps' must be >= 1, got 0``. Command-line flags that feed a
config key take their bounds from the same metadata (``cli/arguments.py``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Union

import yaml

from .errors import UserError

# --------------------------------------------------------------------------------------------------
# Declared ranges
# --------------------------------------------------------------------------------------------------

MAX_IMAGE_SIZE = 4096  # px per side; 100000 px once tried to allocate 120 GB before failing
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def device_problem(name: object) -> str | None:
    """Why ``name`` is not a device string we accept, or None."""
    if isinstance(name, str) and _DEVICE.fullmatch(name):
        return None
    return f"must be auto, cpu, cuda, cuda:N or mps, got {name!r}"


def bounded(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
            **bounds: Any) -> Any:
    """A dataclass field with declared bounds: ``ge``/``gt``/``le``/``lt`` (numbers, or each item of a list),
    ``min_len``/``length`` (lists), ``check`` (a callable: value → problem or None), ``note`` (why, shown
    with a broken numeric bound)."""
    return field(default=default, default_factory=default_factory, metadata={"bounds": bounds})


def range_problem(value: Any, bounds: dict[str, Any]) -> str | None:
    """Why ``value`` breaks ``bounds`` ("must be >= 1, got 0"), or None. None values are not checked."""
    if value is None or not bounds:
        return None
    check: Callable[[Any], str | None] | None = bounds.get("check")
    if check is not None and (problem := check(value)):
        return problem
    if isinstance(value, list):
        if "length" in bounds and len(value) != bounds["length"]:
            return f"must hold {bounds['length']} values, got {len(value)}"
        if len(value) < bounds.get("min_len", 0):
            return "must not be empty" if bounds["min_len"] == 1 else \
                f"must hold at least {bounds['min_len']} values, got {len(value)}"
        for i, item in enumerate(value):
            if (problem := range_problem(item, {k: v for k, v in bounds.items() if k in _NUMERIC})):
                return f"item {i} {problem}"
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    for name, (holds, text) in _NUMERIC.items():
        if name in bounds and not holds(value, bounds[name]):  # NaN fails every comparison
            note = f" ({bounds['note']})" if "note" in bounds else ""
            return f"must be {text} {bounds[name]}{note}, got {value!r}"
    if isinstance(value, float) and math.isnan(value):
        return "must be a number, got nan"
    return None


_NUMERIC: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "ge": (lambda v, b: v >= b, ">="),
    "gt": (lambda v, b: v > b, ">"),
    "le": (lambda v, b: v <= b, "<="),
    "lt": (lambda v, b: v < b, "<"),
}


def field_bounds(cls: type, name: str) -> dict[str, Any]:
    """The bounds declared on field ``name`` of dataclass ``cls`` (for command-line flags)."""
    return dict(next(f for f in dataclasses.fields(cls) if f.name == name).metadata.get("bounds", {}))


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


@dataclass
class ChannelSpec:
    """What data a recipe accepts. ``count`` is a channel count, a list of them, or "any"."""

    count: Union[int, list[int], Literal["any"]] = bounded(3, ge=1, min_len=1)
    rgb: bool = False  # ops that need RGB semantics (hue, saturation, luma grayscale) require this
    names: Union[list[str], None] = None

    def accepts(self, n: int) -> bool:
        if self.count == "any":
            return True
        if isinstance(self.count, int):
            return n == self.count
        return n in self.count


@dataclass
class ScalingSpec:
    """How raw pixel values become floats, applied on the device before augmentation.

    kind: ``auto`` (uint8 → /255, uint16 → /65535, floats unchanged), ``divide`` (by ``value``, e.g.
    10000 for Sentinel-2 reflectance), ``percentile_clip`` (per band, clip to [low, high] and map to
    [0, 1]; bounds from ``low``/``high`` or the p1/p99 of a ``stats`` file), ``ct_window`` (clip to
    ``center`` ± ``width``/2, e.g. HU 40/400 for soft tissue, and map to [0, 1]), ``none``.
    """

    kind: Literal["auto", "divide", "percentile_clip", "ct_window", "none"] = "auto"
    value: Union[float, None] = bounded(None, gt=0)
    stats: Union[str, None] = None  # percentile_clip: a stats.json from `byol-transfer stats` (p1, p99)
    low: Union[list[float], None] = None  # percentile_clip: explicit bounds, one per band or one for all
    high: Union[list[float], None] = None
    center: Union[float, None] = None  # ct_window: window level
    width: Union[float, None] = bounded(None, gt=0)  # ct_window: window width


@dataclass
class NormalizeSpec:
    """Per-channel normalisation applied last, after augmentation.

    Either explicit ``mean``/``std`` (one value per channel, or one value for all), or ``stats``: a
    stats.json path written by ``byol-transfer stats``. Neither means mean 0, std 1.
    """

    mean: Union[list[float], None] = None
    std: Union[list[float], None] = bounded(None, gt=0)
    stats: Union[str, None] = None


@dataclass
class RecipeConfig:
    """A named pair of augmentation views plus the channel, scaling and normalisation contract."""

    name: str
    description: str = ""
    channels: ChannelSpec = field(default_factory=ChannelSpec)
    scaling: ScalingSpec = field(default_factory=ScalingSpec)
    normalize: NormalizeSpec = field(default_factory=NormalizeSpec)
    view1: list[dict[str, Any]] = bounded(default_factory=list, min_len=1)  # a view needs at least one op
    view2: list[dict[str, Any]] = bounded(default_factory=list, min_len=1)
    plugins: list[str] = field(default_factory=list)  # modules of the user's own ops, imported first
    source: Union[str, None] = None  # the file it came from, for error messages


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
    image_size: int = bounded(224, ge=8, le=MAX_IMAGE_SIZE, note="px per side")
    batch_size: int = bounded(256, ge=1)
    num_workers: int = bounded(2, ge=0)
    extensions: Union[list[str], None] = None  # None: every format the readers know (incl. DICOM)
    shuffle_buffer: int = bounded(1000, ge=1)  # streamed shards (data/shards/): samples held per process for shuffling


@dataclass
class TrainConfig:
    epochs: int = bounded(100, ge=1)
    # caps the run (None: no cap; 0 is an error, not "no cap"); schedules span min(epochs·steps/epoch, max_steps)
    max_steps: Union[int, None] = bounded(None, ge=1)
    seed: int = bounded(0, ge=0)
    device: str = bounded("auto", check=device_problem)  # auto | cpu | cuda | cuda:N | mps
    precision: Literal["fp32", "bf16"] = "fp32"
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


# --------------------------------------------------------------------------------------------------
# dict → dataclass, strictly
# --------------------------------------------------------------------------------------------------

_T = typing.TypeVar("_T")


def from_dict(cls: type[_T], data: Any, where: str = "config", prefix: str = "") -> _T:
    """Build dataclass ``cls`` from ``data``; errors name ``where`` (a file) and the dotted key."""
    if not isinstance(data, dict):
        raise UserError(f"{where}: {prefix or 'top level'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}{unknown[0]}"
        raise UserError(f"{where}: unknown key {key!r} (known: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], where, f"{prefix}{name}")
            problem = range_problem(kwargs[name], f.metadata.get("bounds", {}))
            if problem:
                raise UserError(f"{where}: {prefix + name!r} {problem}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise UserError(f"{where}: missing required key {prefix + name!r}")
    return cls(**kwargs)


def _convert(tp: Any, value: Any, where: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where, key + ".")
    if origin in (Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _convert(option, value, where, key)
            except UserError:
                continue  # the message below names every option at once
        raise UserError(f"{where}: bad value {value!r} for {key!r} (expected {_type_name(tp)})")
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        choices = ", ".join(map(str, typing.get_args(tp)))
        raise UserError(f"{where}: bad value {value!r} for {key!r} (choose one of: {choices})")
    if origin is list:
        if not isinstance(value, list):
            raise UserError(f"{where}: {key!r} must be a list, got {value!r}")
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [_convert(item_tp, v, where, f"{key}.{i}") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where}: {key!r} must be a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is type(None):
        if value is None:
            return None
        raise UserError(f"{where}: {key!r} must be null")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where}: {key!r} must be true or false, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 2e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise UserError(f"{where}: {key!r} must be a number, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UserError(f"{where}: {key!r} must be an integer, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise UserError(f"{where}: {key!r} must be a string, got {value!r}")
    raise TypeError(f"unsupported config type {tp!r} for {key}")


def _type_name(tp: Any) -> str:
    args = typing.get_args(tp)
    if typing.get_origin(tp) is Literal:
        return " or ".join(repr(a) for a in args)
    if typing.get_origin(tp) is list:
        return f"a list of {_type_name(args[0]) if args else 'values'}"
    if args:
        return " or ".join(_type_name(a) for a in args)
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


def to_dict(obj: Any) -> Any:
    """Dataclass → plain dict (YAML-safe)."""
    return dataclasses.asdict(obj)


# --------------------------------------------------------------------------------------------------
# YAML files and --set overrides
# --------------------------------------------------------------------------------------------------


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserError(f"{path}: not valid YAML{at}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level must be a mapping")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML) to a nested dict, in place."""
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise UserError(f"--set {item!r}: empty key")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise UserError(f"--set {item!r}: value is not valid YAML") from None
        node: Any = data
        parts = key.split(".")
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[_list_index(node, part, key)]
                continue
            if not isinstance(node, dict):
                raise UserError(f"--set {key}: {part!r} is not a section")
            node = node.setdefault(part, {})
        last = parts[-1]
        if isinstance(node, list):
            node[_list_index(node, last, key)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise UserError(f"--set {key}: cannot set inside a value")
    return data


def _list_index(node: list, part: str, key: str) -> int:
    if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
        raise UserError(f"--set {key}: {part!r} is not an index into a list of {len(node)}")
    return int(part)


def save_yaml_atomic(data: dict[str, Any], path: str | Path) -> None:
    from .io import atomic_write_text

    atomic_write_text(Path(path), yaml.safe_dump(data, sort_keys=False))
