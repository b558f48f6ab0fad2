"""Recipes: YAML files in ``recipes/`` → :class:`RecipeConfig` → a :class:`TwoViews` module."""

from __future__ import annotations

from pathlib import Path

import kornia.augmentation as K
import torch

from ..config import RecipeConfig, from_dict, read_yaml
from ..errors import UserError
from .ops import OPS, build_op, check_op_spec
from .ops._fused_geometry import fuse_geometry
from .ops.ct_window import training_scaling, with_declared_window
from .plugins import load_plugins
from .scaling import Normalize, ValueScaling, resolve_normalization, scales_to_unit_range
from .views import EvalTransform, TwoViews


def recipe_dirs() -> list[Path]:
    """Where built-in recipes live: the checkout's ``recipes/`` or the copy packed into the wheel."""
    package = Path(__file__).resolve().parents[1]
    return [p for p in (package.parent / "recipes", package / "_recipes") if p.is_dir()]


def list_recipes() -> list[RecipeConfig]:
    seen: dict[str, RecipeConfig] = {}
    for folder in recipe_dirs():
        for path in sorted(folder.glob("*.yaml")):
            seen.setdefault(path.stem, load_recipe(path))
    return [seen[name] for name in sorted(seen)]


def recipe_path(name_or_path: str | Path) -> Path:
    """A file path as given, or a built-in recipe's file by name."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise UserError(f"recipe file not found: {path}")
        return path
    for folder in recipe_dirs():
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    names = sorted({p.stem for d in recipe_dirs() for p in d.glob("*.yaml")})
    raise UserError(f"unknown recipe {str(name_or_path)!r}; choose one of: {', '.join(names)} or a .yaml path")


def recipe_from_dict(data: dict, where: str) -> RecipeConfig:
    data = dict(data)
    data.setdefault("source", where)
    recipe = from_dict(RecipeConfig, data, where)
    check_recipe_ops(recipe)
    return recipe


def check_recipe_ops(recipe: RecipeConfig) -> None:
    """Every op entry of both views, when the recipe is loaded: before any data are read.

    Channel and value-range rules need the data and are checked again in :func:`build_view`. The
    recipe's ``plugins`` are imported first: they register the user's own ops that the views may name.
    """
    where = recipe.source or f"recipe {recipe.name!r}"
    load_plugins(recipe.plugins, where)
    training_scaling(recipe)  # the ct_window placement rules
    count = recipe.channels.count
    in_chans = count if isinstance(count, int) else None  # "any" or a list: built once the data are known
    for view in ("view1", "view2"):
        for i, spec in enumerate(with_declared_window(recipe, getattr(recipe, view))):
            check_op_spec(spec, f"{where}: {view}[{i}]", in_chans)
            check_op_source(recipe, spec["op"], f"{where}: {view}[{i}]")


def check_op_source(recipe: RecipeConfig, name: str, where: str) -> None:
    """A user's op must come from a module the recipe lists under ``plugins`` (or from inside one).

    The registry is per process: without this, a recipe that forgot its plugin would work after another
    recipe imported it and fail on its own (in a fresh process, on another machine).
    """
    module = OPS.get(name).module
    if module == OPS_PACKAGE or module.startswith(OPS_PACKAGE + "."):
        return
    if not any(module == p or module.startswith(p + ".") for p in recipe.plugins):
        raise UserError(f"{where}: op {name!r} comes from module {module}, which this recipe does not list "
                        f"under plugins: add it (plugins: [{module}])")


OPS_PACKAGE = build_op.__module__  # byol_transfer.augment.ops: every built-in op is defined inside it


def load_recipe(name_or_path: str | Path) -> RecipeConfig:
    path = recipe_path(name_or_path)
    data = read_yaml(path)
    data.setdefault("name", path.stem)
    return recipe_from_dict(data, str(path))


def build_two_views(
    recipe: RecipeConfig,
    image_size: int,
    in_chans: int,
    input_dtype: torch.dtype = torch.uint8,
) -> TwoViews:
    """Check the recipe against the data (channel count, value range) and build its two views (and the
    local crops' view when ``recipe.local_crops.number`` > 0)."""
    scaling = training_scaling(recipe)
    local = recipe.local_crops
    local_view = None
    if local.number:
        local_view = build_view(recipe, local_view_specs(recipe), local_crop_size(recipe, image_size), in_chans,
                                input_dtype)
    return TwoViews(
        ValueScaling(scaling, in_chans),
        build_view(recipe, recipe.view1, image_size, in_chans, input_dtype),
        build_view(recipe, recipe.view2, image_size, in_chans, input_dtype),
        build_normalize(recipe, in_chans),
        eval_scaling=None if scaling == recipe.scaling else ValueScaling(recipe.scaling, in_chans),
        local_view=local_view,
        local_count=local.number,
    )


def local_crop_size(recipe: RecipeConfig, image_size: int) -> int:
    """``recipe.local_crops.size``, or half the global size; never larger than the global views."""
    size = recipe.local_crops.size or max(8, image_size // 2)
    if size > image_size:
        where = recipe.source or f"recipe {recipe.name!r}"
        raise UserError(f"{where}: local_crops.size {size} is larger than the global views ({image_size} px, "
                        "data.image_size); local crops must be smaller")
    return size


def local_view_specs(recipe: RecipeConfig) -> list[dict]:
    """The local crops' ops: those of ``local_crops.ops_from`` with every ``random_resized_crop`` drawing
    its box from ``local_crops.scale`` (its output size is the local size, given when it is built). A view
    without a crop gets one first: a local crop must be a small part of the image, not all of it."""
    local = recipe.local_crops
    specs = []
    for spec in getattr(recipe, local.ops_from):
        specs.append({**spec, "scale": list(local.scale)} if spec["op"] == "random_resized_crop" else dict(spec))
    if not any(spec["op"] == "random_resized_crop" for spec in specs):
        specs.insert(0, {"op": "random_resized_crop", "scale": list(local.scale)})
    return specs


def check_channels(recipe: RecipeConfig, in_chans: int) -> None:
    if not recipe.channels.accepts(in_chans):
        where = recipe.source or f"recipe {recipe.name!r}"
        raise UserError(
            f"{where}: recipe {recipe.name!r} accepts {recipe.channels.count} channel(s), "
            f"but the data have {in_chans}"
        )


def build_view(
    recipe: RecipeConfig,
    specs: list[dict],
    image_size: int,
    in_chans: int,
    input_dtype: torch.dtype = torch.uint8,
) -> K.AugmentationSequential:
    """One view's ops, each checked against the data: values after ``training_scaling(recipe)`` in,
    augmented values out (not yet normalised)."""
    where = recipe.source or f"recipe {recipe.name!r}"
    load_plugins(recipe.plugins, where)  # a RecipeConfig made in code has not been through check_recipe_ops
    check_channels(recipe, in_chans)
    unit = scales_to_unit_range(training_scaling(recipe), input_dtype)
    ops = []
    for spec in with_declared_window(recipe, specs):
        ops.append(build_op(spec, image_size=image_size, in_chans=in_chans, rgb=recipe.channels.rgb,
                            unit_range=unit, where=where))
        if OPS.get(spec["op"]).outputs_unit_range:
            unit = True  # e.g. after a CT window, ops that assume [0, 1] are fine
    # Crop + flips + quarter turns resample once (same output, see ops/_fused_geometry.py). The views
    # carry images only, so the chained transformation matrix (for masks and boxes) is not computed.
    return K.AugmentationSequential(*fuse_geometry(ops), data_keys=["input"], transformation_matrix_mode="skip")


def build_normalize(recipe: RecipeConfig, in_chans: int) -> Normalize:
    where = recipe.source or f"recipe {recipe.name!r}"
    mean, std = resolve_normalization(recipe.normalize, in_chans, where)
    return Normalize(mean, std)


def build_eval_transform(recipe: RecipeConfig, in_chans: int) -> EvalTransform:
    """Scaling + normalisation only: what feature extraction and evaluation apply."""
    return EvalTransform(ValueScaling(recipe.scaling), build_normalize(recipe, in_chans))
