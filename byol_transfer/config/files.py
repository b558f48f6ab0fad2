"""YAML files and ``--set key.sub=value`` overrides, applied to plain dicts before the strict conversion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..io import atomic_write_text

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
    atomic_write_text(Path(path), yaml.safe_dump(data, sort_keys=False))
