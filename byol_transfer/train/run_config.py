"""Resolve a pretraining config from ``--config`` (a recipe or a full run config), flags and ``--set``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..augment.recipes import check_recipe_ops, load_recipe, recipe_path
from ..config import PretrainConfig, apply_overrides, from_dict, read_yaml, to_dict


def config_source(name_or_path: str) -> tuple[dict[str, Any], str]:
    """The config as a plain dict and where it came from.

    A recipe name or recipe file gives ``{"recipe": ...}`` with defaults for everything else; a YAML
    file with a top-level ``recipe`` key is a full run config (what a run writes to config.yaml), whose
    ``recipe`` may itself be a name, a path or an inline mapping.
    """
    path = Path(name_or_path)
    if path.is_file():
        data = read_yaml(path)
        if "recipe" in data:
            if isinstance(data["recipe"], str):
                data["recipe"] = to_dict(load_recipe(data["recipe"]))
            return data, str(path)
    recipe = load_recipe(name_or_path)
    return {"recipe": to_dict(recipe)}, str(recipe_path(name_or_path))


def resolve_config(
    base: dict[str, Any], where: str, flags: dict[str, Any], sets: list[str]
) -> PretrainConfig:
    """Apply command-line flags (``section.key`` → value, None = not given), then ``--set`` strings."""
    for key, value in flags.items():
        if value is None:
            continue
        section, name = key.split(".")
        base.setdefault(section, {})[name] = value
    apply_overrides(base, sets)
    cfg = from_dict(PretrainConfig, base, where if not sets else f"{where} (with --set)")
    check_recipe_ops(cfg.recipe)  # --set may have changed an op: checked before any data are read
    return cfg
