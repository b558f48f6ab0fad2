"""Gamma (x-ray exposure curves) and CT window jitter (Hounsfield units → [0, 1])."""

import pytest
import torch

from byol_transfer.augment.ops.ct_window import RandomCTWindow
from byol_transfer.augment.ops.gamma import gamma
from byol_transfer.augment.recipes import build_eval_transform, build_two_views, load_recipe
from byol_transfer.errors import UserError


def test_gamma_draws_per_sample_and_keeps_black_and_white():
    op = gamma(16, 1, p=1.0, gamma=[0.5, 2.0])
    x = torch.linspace(0, 1, 64).view(1, 1, 8, 8).repeat(6, 1, 1, 1)
    out = op(x)
    g = op._params["gamma_factor"]
    assert len(set(g.tolist())) == 6 and ((g >= 0.5) & (g <= 2.0)).all()
    torch.testing.assert_close(out, x ** g.view(-1, 1, 1, 1))
    assert torch.equal(out[:, :, 0, 0], x[:, :, 0, 0]) and torch.allclose(out[:, :, -1, -1], x[:, :, -1, -1])


def test_gamma_needs_unit_range_data():
    recipe = load_recipe("radiology_ct")
    recipe.view1 = [{"op": "gamma"}]
    recipe.view2 = []
    recipe.scaling.kind = "none"
    with pytest.raises(UserError, match="op 'gamma' assumes values in \\[0, 1\\]"):
        build_two_views(recipe, 16, 1, torch.int16)


def test_window_maps_hounsfield_units_per_sample():
    op = RandomCTWindow(40, 400, center_jitter=20, width_jitter=0.2)
    hu = torch.linspace(-1000, 1000, 256).view(1, 1, 16, 16).repeat(5, 1, 1, 1)
    out = op(hu)
    c, w = op._params["window_center"], op._params["window_width"]
    assert ((c >= 20) & (c <= 60)).all() and ((w >= 320) & (w <= 480)).all() and len(set(c.tolist())) == 5
    expected = ((hu - (c - w / 2).view(-1, 1, 1, 1)) / w.view(-1, 1, 1, 1)).clamp(0, 1)
    torch.testing.assert_close(out, expected)


def test_ct_recipe_views_stay_in_the_window_range_before_normalisation():
    recipe = load_recipe("radiology_ct")
    views = build_two_views(recipe, 16, 1, torch.int16)
    hu = torch.randint(-1024, 2000, (8, 1, 16, 16), dtype=torch.int16)
    x = views.scaling(hu)
    assert torch.equal(x, hu.float())  # the views receive raw HU: the window op scales them
    for view in (views.view1, views.view2):
        out = view(x)
        assert out.min() >= 0 and out.max() <= 1
    # evaluation applies exactly the declared soft-tissue window (40/400 HU)
    expected = ((hu.float() - (40 - 200)) / 400).clamp(0, 1)
    for evaluate in (build_eval_transform(recipe, 1), views.eval_transform):
        torch.testing.assert_close(evaluate(hu), (expected - 0.5) / 0.25)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.view1.append(r.view1.pop(0)), "view1: ct_window must be the first op"),
        (lambda r: r.view2.pop(0), "ct_window must start both views or neither"),
        (lambda r: setattr(r.scaling, "kind", "none"), "set scaling: {kind: ct_window"),
        (lambda r: r.view1[0].update(center=0), "declare 'center' once, under scaling"),
    ],
)
def test_window_jitter_is_declared_consistently(change, message):
    recipe = load_recipe("radiology_ct")
    change(recipe)
    with pytest.raises(UserError, match=message.replace("{", "\\{").replace("(", "\\(")):
        build_two_views(recipe, 16, 1, torch.int16)
