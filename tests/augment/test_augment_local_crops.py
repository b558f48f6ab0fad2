"""Multi-crop local views (recipe.local_crops): sizes, ops, channel counts, and the global views unchanged."""

import pytest
import torch

from byol_transfer.augment.recipes import build_two_views, load_recipe, local_crop_size, local_view_specs
from byol_transfer.config import from_dict, to_dict
from byol_transfer.config.recipe import RecipeConfig
from byol_transfer.errors import UserError


def _batch(channels: int, size: int = 32, dtype: torch.dtype = torch.uint8, n: int = 4) -> torch.Tensor:
    high = 256 if dtype == torch.uint8 else 10000
    return torch.randint(0, high, (n, channels, size, size), generator=torch.Generator().manual_seed(2)).to(dtype)


def _recipe(name: str = "satellite_rgb", **local) -> RecipeConfig:
    recipe = load_recipe(name)
    for key, value in local.items():
        setattr(recipe.local_crops, key, value)
    return recipe


def test_local_crops_are_off_by_default_in_every_built_in_recipe():
    from byol_transfer.augment.recipes import list_recipes

    for recipe in list_recipes():
        assert recipe.local_crops.number == 0, recipe.name
    views = build_two_views(load_recipe("natural_rgb"), 32, 3)
    assert views.local_view is None and views.local_count == 0


def test_without_local_crops_the_views_are_exactly_todays():
    views = build_two_views(load_recipe("natural_rgb"), 32, 3)
    torch.manual_seed(3)
    a1, a2 = views(_batch(3))
    torch.manual_seed(3)
    b1, b2, local = views.with_local_views(_batch(3))
    assert local == [] and torch.equal(a1, b1) and torch.equal(a2, b2)


def test_local_crops_leave_the_global_views_unchanged():
    plain = build_two_views(load_recipe("satellite_rgb"), 32, 3)
    multi = build_two_views(_recipe(number=3, size=16), 32, 3)
    torch.manual_seed(4)
    a1, a2 = plain(_batch(3))
    torch.manual_seed(4)
    b1, b2, local = multi.with_local_views(_batch(3))
    assert torch.equal(a1, b1) and torch.equal(a2, b2)  # drawn after both global views
    assert len(local) == 3 and all(v.shape == (4, 3, 16, 16) for v in local)
    assert not torch.equal(local[0], local[1])  # each crop draws its own parameters


@pytest.mark.parametrize("recipe_name, channels, dtype", [
    ("grayscale", 1, torch.uint8), ("satellite_rgb", 3, torch.uint8), ("satellite_multispectral", 13, torch.uint16)])
def test_local_crop_shapes_for_1_3_and_13_bands(recipe_name, channels, dtype):
    views = build_two_views(_recipe(recipe_name, number=2), 32, channels, dtype)  # size: half of 32 by default
    v1, v2, local = views.with_local_views(_batch(channels, dtype=dtype))
    assert v1.shape == v2.shape == (4, channels, 32, 32)
    assert [v.shape for v in local] == [(4, channels, 16, 16)] * 2
    assert all(torch.isfinite(v).all() for v in local)


def test_local_ops_are_view2s_with_the_local_scale_unless_view1_is_chosen():
    recipe = _recipe(number=4, scale=[0.05, 0.3])
    specs = local_view_specs(recipe)
    assert specs[0] == {**recipe.view2[0], "scale": [0.05, 0.3]}
    assert specs[1:] == recipe.view2[1:]  # the same photometric ops as view 2 (solarize included)
    assert recipe.view2[0]["scale"] == [0.08, 1.0]  # the recipe's own view is not changed
    recipe.local_crops.ops_from = "view1"
    assert [s["op"] for s in local_view_specs(recipe)] == [s["op"] for s in recipe.view1]


def test_a_view_without_a_crop_gets_one_for_its_local_crops():
    recipe = _recipe(number=1, scale=[0.1, 0.2])
    recipe.view2 = [{"op": "horizontal_flip", "p": 0.5}]
    assert local_view_specs(recipe) == [{"op": "random_resized_crop", "scale": [0.1, 0.2]},
                                        {"op": "horizontal_flip", "p": 0.5}]


def test_local_crop_size_default_and_too_large():
    assert local_crop_size(_recipe(number=2), 64) == 32
    assert local_crop_size(_recipe(number=2, size=24), 64) == 24
    with pytest.raises(UserError, match="local_crops.size 96 is larger than the global views \\(64 px"):
        local_crop_size(_recipe(number=2, size=96), 64)


def test_local_crops_keys_are_checked():
    data = to_dict(load_recipe("satellite_rgb"))
    data["local_crops"] = {"number": 4, "size": 32, "scale": [0.05, 0.3]}
    assert from_dict(RecipeConfig, data, "recipe.yaml").local_crops.number == 4
    for bad, message in [({"number": -1}, "local_crops.number' must be >= 0"),
                         ({"scale": [0.3, 0.05]}, "low <= high"),
                         ({"scale": [0.0, 0.3]}, "must be > 0"),
                         ({"ops_from": "view3"}, "ops_from"),
                         ({"count": 4}, "count")]:
        data["local_crops"] = bad
        with pytest.raises(UserError, match=message):
            from_dict(RecipeConfig, data, "recipe.yaml")
