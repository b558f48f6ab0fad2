"""Where random init's value scaling and normalisation come from, and the export-sidecar adapter."""

from __future__ import annotations

import pytest
import torch

from byol_transfer.data.cards import load_card
from byol_transfer.transfer.inits import shared_recipe


def test_random_init_without_recipe_export_or_card_uses_measured_band_statistics():
    images = torch.stack([torch.full((3, 4, 4), v, dtype=torch.int16) for v in (0, 10, 20, 30)])
    images[:, 2] = 7  # a constant band: std would be 0, so it is left at 1
    recipe = shared_recipe(None, None, None, images)
    assert recipe.scaling.kind == "auto"
    assert recipe.normalize.mean == pytest.approx([15.0, 15.0, 7.0])
    assert recipe.normalize.std == pytest.approx([125 ** 0.5, 125 ** 0.5, 1.0])


def test_random_init_follows_the_first_export_then_the_card():
    meta = {"recipe": "satellite_multispectral", "scaling": {"kind": "divide", "value": 10000.0},
            "normalize": {"mean": [0.1, 0.2], "std": [0.3, 0.4]}}
    from_export = shared_recipe(None, load_card("water_seg"), meta, torch.zeros(1, 2, 4, 4))
    assert (from_export.scaling.kind, from_export.scaling.value) == ("divide", 10000.0)
    assert from_export.normalize.mean == [0.1, 0.2]
    from_card = shared_recipe(None, load_card("water_seg"), None, torch.zeros(1, 12, 4, 4))
    assert from_card.scaling.kind == "percentile_clip" and from_card.normalize.stats.endswith("stats.json")


