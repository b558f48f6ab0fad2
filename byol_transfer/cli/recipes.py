"""byol-transfer recipes: the built-in augmentation recipes, their channels and what they are for."""

from __future__ import annotations

import argparse

from ..augment.recipes import list_recipes
from ..config import ChannelSpec


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("recipes", help="list augmentation recipes", description=__doc__)


def channels_label(spec: ChannelSpec) -> str:
    """'3 RGB', '1', 'any', '4/12/13': what data a recipe accepts, in a few characters."""
    count = spec.count
    text = "/".join(map(str, count)) if isinstance(count, list) else str(count)
    return f"{text} RGB" if spec.rgb else text


def run(args: argparse.Namespace) -> int:
    recipes = list_recipes()
    labels = [channels_label(r.channels) + " ch" for r in recipes]
    name_width = max(len(r.name) for r in recipes)
    label_width = max(map(len, labels))
    for recipe, label in zip(recipes, labels):
        print(f"{recipe.name:<{name_width}}  {label:<{label_width}}  {recipe.description}")
    print("\nRecipe details and how to write your own: docs/recipes.md; "
          "look at the views with `byol-transfer preview --config NAME --data PATH --out views.png`.")
    return 0
