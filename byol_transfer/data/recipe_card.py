"""What a data card tells a recipe: the dataset's value scaling and its normalisation statistics.

Value scaling is a property of the data (uint16 Sentinel-2 needs /10000, heterogeneous bands a per-band
percentile clip, CT a window), so a card's scaling replaces the recipe's, unless the user set the
recipe's scaling explicitly (``--set recipe.scaling...``). The recipe names its normalisation source: the
card's stats.json fills in only where the recipe declares no normalisation, and only when the scalings
agree, since stats.json holds mean/std after the card's scaling.
"""

from __future__ import annotations

import dataclasses
import logging

from ..config import RecipeConfig, ScalingSpec
from .cards import DataCard

log = logging.getLogger(__name__)


def apply_card(recipe: RecipeConfig, card: DataCard, keep_scaling: bool = False) -> RecipeConfig:
    """Fill ``recipe``'s scaling and normalisation from ``card`` (in place); see the module docstring."""
    card_scaling = card.resolved_scaling()
    if keep_scaling:
        if recipe.scaling != card_scaling:
            log.info("keeping the value scaling set on the command line (%s); card %r declares %s",
                     describe(recipe.scaling), card.name, describe(card_scaling))
    elif recipe.scaling != card_scaling:
        log.info("value scaling from data card %r: %s (recipe %r had %s)", card.name, describe(card_scaling),
                 recipe.name, describe(recipe.scaling))
        recipe.scaling = dataclasses.replace(card_scaling)
    norm = recipe.normalize
    stats = card.stats_path
    if norm.mean is None and norm.std is None and norm.stats is None and stats is not None:
        if recipe.scaling == card_scaling:
            norm.stats = str(stats)
            log.info("normalisation statistics from data card %r: %s", card.name, stats)
        else:
            log.info("card %r stats.json not used: it was computed with another value scaling", card.name)
    return recipe


def describe(spec: ScalingSpec) -> str:
    fields = {k: v for k, v in dataclasses.asdict(spec).items() if v is not None and k != "kind"}
    return spec.kind + (f" {fields}" if fields else "")
