"""byol-transfer recipes: the built-in augmentation recipes, their channels and what they are for."""

from __future__ import annotations

import argparse

from ..augment.recipes import list_recipes


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("recipes", help="list augmentation recipes", description=__doc__)


def run(args: argparse.Namespace) -> int:
    recipes = list_recipes()
    width = max(len(r.name) for r in recipes)
    for r in recipes:
        channels = r.channels.count if r.channels.count != "any" else "any"
        kind = " RGB" if r.channels.rgb else ""
        print(f"{r.name:<{width}}  [{channels}{kind} ch]  {r.description}")
    return 0
