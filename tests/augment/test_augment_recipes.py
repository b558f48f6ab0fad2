"""Every built-in recipe on every channel count it declares, and the invariants each one promises."""

import kornia.augmentation as K
import pytest
import torch

from byol_transfer.augment.ops import OPS
from byol_transfer.augment.recipes import build_two_views, list_recipes, load_recipe
from byol_transfer.errors import UserError

ANY_COUNTS = [2, 4, 6, 10, 12, 13]  # "any": RGBN, Landsat, Sentinel-2 without/with 60 m bands
RECIPES = {r.name: r for r in list_recipes()}
EXPECTED = {"natural_rgb", "satellite_rgb", "satellite_multispectral", "histopathology_he",
            "radiology_xray", "radiology_ct", "grayscale"}


def _counts(recipe) -> list[int]:
    count = recipe.channels.count
    return ANY_COUNTS if count == "any" else (count if isinstance(count, list) else [count])


def _raw_batch(recipe, channels: int, n: int = 6, size: int = 24, same: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    shape = (1 if same else n, channels, size, size)
    if recipe.scaling.kind == "ct_window":
        x = torch.randint(-1024, 1500, shape, dtype=torch.int16, generator=g)
    elif recipe.scaling.kind == "divide":
        x = torch.randint(0, 6000, shape, dtype=torch.int32, generator=g).to(torch.uint16)
    else:
        x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=g)
    return x.expand(n, -1, -1, -1).clone() if same else x


CASES = [(name, c) for name, r in sorted(RECIPES.items()) for c in _counts(r)]


def test_all_issue_recipes_exist_with_a_description():
    assert EXPECTED <= set(RECIPES)
    for recipe in RECIPES.values():
        assert recipe.description and len(recipe.description) < 120


@pytest.mark.parametrize(("name", "channels"), CASES)
def test_recipe_builds_and_runs_on_each_declared_channel_count(name, channels):
    recipe = RECIPES[name]
    x = _raw_batch(recipe, channels)
    views = build_two_views(recipe, 24, channels, x.dtype)
    v1, v2 = views(x)
    assert v1.shape == v2.shape == (6, channels, 24, 24)
    assert torch.isfinite(v1).all() and torch.isfinite(v2).all()
    assert not torch.equal(v1, v2)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_parameters_differ_per_sample_and_a_seed_replays_the_views(name):
    recipe = RECIPES[name]
    channels = _counts(recipe)[-1]
    x = _raw_batch(recipe, channels, same=True)  # identical images: differences come from the parameters
    views = build_two_views(recipe, 24, channels, x.dtype)
    torch.manual_seed(5)
    a1, a2 = views(x)
    for view in (a1, a2):
        assert len({view[i].flatten().sum().item() for i in range(len(view))}) > 1
    crops = [p.data.get("src", p.data.get("0.src")) for p in views.view1._params]  # alone or fused
    crop_boxes = next(c for c in crops if c is not None)
    assert not torch.equal(crop_boxes[0], crop_boxes[1])
    torch.manual_seed(5)
    b1, b2 = views(x)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_wrong_channel_count_is_a_clear_user_error(name):
    recipe = RECIPES[name]
    if recipe.channels.count == "any":
        with pytest.raises(UserError, match="band_dropout"):  # one band cannot lose a band
            build_two_views(recipe, 24, 1)
        return
    wrong = 5 if 5 not in _counts(recipe) else 7
    with pytest.raises(UserError, match=rf"recipe '{name}' accepts .* channel\(s\), but the data have {wrong}"):
        build_two_views(recipe, 24, wrong)


def _op_names(recipe) -> set[str]:
    return {spec["op"] for spec in recipe.view1 + recipe.view2}


def test_xray_never_flips_vertically_and_has_no_hue_op():
    recipe = RECIPES["radiology_xray"]
    names = _op_names(recipe)
    assert "vertical_flip" not in names and "rotate90" not in names
    assert not names & {"color_jitter", "grayscale", "hed_jitter", "solarize"}
    views = build_two_views(recipe, 24, 1)
    modules = list(views.view1.modules()) + list(views.view2.modules())  # fused ops included
    assert not any(isinstance(m, (K.RandomVerticalFlip, K.ColorJitter, K.RandomGrayscale)) for m in modules)
    for spec in recipe.view1 + recipe.view2:
        if spec["op"] == "random_resized_crop":
            assert spec["scale"] == [0.3, 1.0]
        if spec["op"] == "rotation":
            assert spec["degrees"] <= 15


def test_multispectral_uses_no_rgb_only_op_and_keeps_every_band():
    recipe = RECIPES["satellite_multispectral"]
    assert all(OPS.get(name).channels == "any" for name in _op_names(recipe))
    assert "solarize" not in _op_names(recipe)
    assert recipe.scaling.kind == "divide" and recipe.scaling.value == 10000
    x = _raw_batch(recipe, 13)
    views = build_two_views(recipe, 24, 13, x.dtype)
    scaled = views.scaling(x)
    for view in (views.view1, views.view2):
        assert view(scaled).shape[1] == 13


def test_satellite_and_histology_recipes_add_orientation_ops_and_drop_solarize_where_meaningless():
    for name in ("satellite_rgb", "satellite_multispectral", "histopathology_he"):
        names = _op_names(RECIPES[name])
        assert {"vertical_flip", "rotate90", "horizontal_flip"} <= names
    he = _op_names(RECIPES["histopathology_he"])
    assert "hed_jitter" in he and "solarize" not in he
    jitter = next(s for s in RECIPES["histopathology_he"].view1 if s["op"] == "color_jitter")
    assert jitter["hue"] == 0 and jitter["saturation"] == 0
    sat = next(s for s in RECIPES["satellite_rgb"].view1 if s["op"] == "color_jitter")
    assert sat["hue"] < 0.1
    blur = next(s for s in RECIPES["satellite_rgb"].view1 if s["op"] == "gaussian_blur")
    assert blur["sigma"][1] <= 0.8


def test_grayscale_recipe_used_by_the_demo_still_loads_and_runs():
    recipe = load_recipe("grayscale")
    v1, v2 = build_two_views(recipe, 28, 1)(torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8))
    assert v1.shape == (4, 1, 28, 28)
