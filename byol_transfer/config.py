"""Configuration: YAML → dataclasses, strictly.

Every YAML key maps 1:1 onto a dataclass field; an unknown key, a missing required key or a value of the
wrong type is a ``UserError`` naming the file and the dotted key. ``--set a.b=value`` overrides are applied
to the plain dict before conversion, so they are checked the same way.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from .errors import UserError

# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


@dataclass
class ChannelSpec:
    """What data a recipe accepts. ``count`` is a channel count, a list of them, or "any"."""

    count: Union[int, list[int], str] = 3
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
    value: Union[float, None] = None
    stats: Union[str, None] = None  # percentile_clip: a stats.json from `byol-transfer stats` (p1, p99)
    low: Union[list[float], None] = None  # percentile_clip: explicit bounds, one per band or one for all
    high: Union[list[float], None] = None
    center: Union[float, None] = None  # ct_window: window level
    width: Union[float, None] = None  # ct_window: window width


@dataclass
class NormalizeSpec:
    """Per-channel normalisation applied last, after augmentation.

    Either explicit ``mean``/``std`` (one value per channel, or one value for all), or ``stats``: a
    stats.json path written by ``byol-transfer stats``. Neither means mean 0, std 1.
    """

    mean: Union[list[float], None] = None
    std: Union[list[float], None] = None
    stats: Union[str, None] = None


@dataclass
class RecipeConfig:
    """A named pair of augmentation views plus the channel, scaling and normalisation contract."""

    name: str
    description: str = ""
    channels: ChannelSpec = field(default_factory=ChannelSpec)
    scaling: ScalingSpec = field(default_factory=ScalingSpec)
    normalize: NormalizeSpec = field(default_factory=NormalizeSpec)
    view1: list[dict[str, Any]] = field(default_factory=list)
    view2: list[dict[str, Any]] = field(default_factory=list)
    source: Union[str, None] = None  # the file it came from, for error messages


@dataclass
class ModelConfig:
    backbone: str = "resnet18"
    in_chans: Union[int, None] = None  # None: taken from the data
    projector_hidden: int = 4096
    projector_out: int = 256
    predictor_hidden: int = 4096


@dataclass
class OptimConfig:
    name: Literal["lars", "adamw", "sgd"] = "lars"
    base_lr: float = 0.2  # the learning rate is base_lr × batch_size / 256 (BYOL, LARS)
    weight_decay: float = 1.5e-6
    momentum: float = 0.9
    trust_coefficient: float = 0.001  # LARS η
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # AdamW
    warmup_fraction: float = 0.05  # of all optimiser steps, linear from 0
    final_lr_fraction: float = 0.0  # cosine decays to base × this


@dataclass
class EMAConfig:
    base_tau: float = 0.996  # τ goes from this to 1 on a cosine over all optimiser steps


@dataclass
class DataConfig:
    path: str = ""
    image_size: int = 224
    batch_size: int = 256
    num_workers: int = 2
    extensions: Union[list[str], None] = None  # None: every format the readers know (incl. DICOM)
    shuffle_buffer: int = 1000  # streamed shards (data/shards/): samples held per process for shuffling


@dataclass
class TrainConfig:
    epochs: int = 100
    max_steps: Union[int, None] = None  # caps the run; schedules span min(epochs·steps/epoch, max_steps)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
    compile: bool = False  # torch.compile the training step's model (first steps compile; needs a C++ compiler)
    checkpoint_every: int = 1000  # optimiser steps; a checkpoint is also written at the end
    log_every: int = 10
    collapse_warn_below: float = 0.05  # warn when std(normalised projections)·√d falls below this


@dataclass
class MonitorConfig:
    """Online k-NN accuracy of the encoder on a small labelled set during pretraining ("" = off)."""

    data: str = ""  # labelled images: class subfolders, an .npz, or a folder + ``labels`` CSV
    labels: Union[str, None] = None  # a ``path,label`` CSV / split file for ``data``
    card: Union[str, None] = None  # data card of ``data`` (default: detected from the layout)
    every: int = 100  # optimiser steps between checks (and one at the end)
    k: int = 20
    query_fraction: float = 0.5  # stratified: this share is classified, the rest is the k-NN bank
    max_images: int = 2000  # a seeded stratified sample of at most this many, so a check costs seconds


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
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise UserError(f"{where}: missing required key {prefix + name!r}")
    return cls(**kwargs)


def _convert(tp: Any, value: Any, where: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where, key + ".")
    if origin in (Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return _convert(option, value, where, key)
            except UserError as e:
                errors.append(str(e))
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
