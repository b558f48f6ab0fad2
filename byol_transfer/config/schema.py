"""Schemas as dataclasses, converted from plain dicts strictly, with ranges declared on the fields.

Every key maps 1:1 onto a dataclass field; an unknown key, a missing required key or a value of the
wrong type is a ``UserError`` naming the file and the dotted key.

Ranges are declared on the fields themselves (``bounded(1, ge=1)`` puts ``{"ge": 1}`` in the field's
metadata) and checked by :func:`from_dict` in the same pass, so a value is range-checked where the schema
is defined and nowhere else: ``'train.max_steps' must be >= 1, got 0``. Command-line flags that set a
config key take their type and bounds from the same field (``config/flags.py``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import field
from typing import Any, Callable, Literal, Union

from ..errors import UserError

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
