"""One command's settings: schema defaults ← ``--config`` file ← flags ← ``--set``, converted strictly.

The merge happens on plain dicts and the conversion once, at the end (``from_dict``), so a value is
checked the same way wherever it came from, and an unknown key is an error naming the dotted key and the
file. What was resolved is written next to the command's results (``write_resolved``), so every output
folder says exactly what produced it and can be re-run with ``--config OUT/config.yaml``.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any, TypeVar

from ..errors import UserError
from .files import apply_overrides, read_yaml, save_yaml_atomic
from .flags import Flag, flag_values
from .schema import from_dict, to_dict

T = TypeVar("T")

CONFIG_NAME = "config.yaml"


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """``data["a"]["b"] = value`` for key ``a.b``, creating sections on the way."""
    node = data
    *sections, last = key.split(".")
    for part in sections:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"{key}: {part!r} is not a section")
    node[last] = value


def _deep_update(data: dict[str, Any], new: dict[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            _deep_update(data[key], value)
        else:
            data[key] = value


def _plain(value: Any) -> Any:
    """YAML-safe: tuples become lists, paths strings (``yaml.safe_dump`` refuses both)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def has_key(data: dict[str, Any], key: str) -> bool:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node is not None and node != ""


def merged_settings(args: argparse.Namespace, flags: list[Flag], base: dict[str, Any] | None = None,
                    config_file: str | Path | None = None) -> tuple[dict[str, Any], str]:
    """The plain dict of ``base`` ← ``config_file`` ← flags ← ``--set``, and where it came from."""
    data = copy.deepcopy(base) if base else {}
    where = "command line"
    if config_file is not None:
        _deep_update(data, read_yaml(config_file))
        where = str(config_file)
    for key, value in flag_values(args, flags).items():
        set_key(data, key, str(value) if isinstance(value, Path) else value)
    sets = list(getattr(args, "sets", []) or [])
    apply_overrides(data, sets)
    if sets:
        where += " (with --set)"
    for flag in flags:
        if flag.required and not has_key(data, flag.key):
            raise UserError(f"{flag.name} is required (or {flag.key} in --config)")
    return data, where


def resolve(schema: type[T], args: argparse.Namespace, flags: list[Flag],
            base: dict[str, Any] | None = None) -> T:
    """The command's settings as a ``schema`` instance (``args.config_file``: the optional ``--config`` YAML)."""
    data, where = merged_settings(args, flags, base, getattr(args, "config_file", None))
    return from_dict(schema, data, where)


def write_resolved(settings: Any, folder: str | Path, name: str = CONFIG_NAME) -> Path:
    """``folder/config.yaml``: every key, defaults included (atomic)."""
    path = Path(folder) / name
    save_yaml_atomic(_plain(to_dict(settings)), path)
    return path
