"""The op registry's contract: declared channels and value ranges are checked before anything trains."""

import pytest
import torch

from byol_transfer.augment.ops import OPS, build_op
from byol_transfer.augment.recipes import build_two_views, load_recipe
from byol_transfer.errors import UserError

ISSUE_OPS = {"band_jitter", "band_grayscale", "hed_jitter", "band_dropout", "gamma", "ct_window", "rotate90"}


def _build(spec, in_chans=3, rgb=True, unit_range=True):
    return build_op(spec, image_size=32, in_chans=in_chans, rgb=rgb, unit_range=unit_range, where="test.yaml")


def test_every_op_is_registered_with_a_description():
    assert ISSUE_OPS <= set(OPS.names())
    for name in OPS.names():
        assert OPS.get(name).description, name


@pytest.mark.parametrize("name", ["color_jitter", "grayscale", "hed_jitter"])
def test_rgb_only_ops_refuse_other_channel_counts(name):
    with pytest.raises(UserError, match=f"test.yaml: op '{name}' needs 3-channel RGB data"):
        _build({"op": name}, in_chans=4, rgb=False)
    with pytest.raises(UserError, match="does not declare rgb: true"):
        _build({"op": name}, in_chans=3, rgb=False)


@pytest.mark.parametrize("name", ["solarize", "gamma", "hed_jitter"])
def test_unit_range_ops_refuse_unscaled_data(name):
    with pytest.raises(UserError, match=f"op '{name}' assumes values in \\[0, 1\\]"):
        _build({"op": name}, unit_range=False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"op": "band_dropout", "max_bands": 13}, "max_bands must be an integer in \\[1, 12\\]"),
        ({"op": "gaussian_blur", "kernel_size": 4}, "kernel_size must be a positive odd number"),
        ({"op": "random_resized_crop", "scale": [0.5, 1.5]}, "scale must be a range within \\(0, 1\\]"),
        ({"op": "band_jitter", "brightness": 1.5}, "brightness must lie in \\[0, 1\\)"),
        ({"op": "gamma", "gamma": [0, 2]}, "gamma must be a range 0 < low <= high"),
        ({"op": "rotate90", "k": 1}, "op 'rotate90' has no parameter 'k'"),
        ({"op": "band_jitter", "in_chans": 3}, "has no parameter 'in_chans'"),
        ({"op": "hue_jitter"}, "unknown op 'hue_jitter'"),
    ],
)
def test_bad_op_parameters_name_the_file_op_and_value(spec, message):
    with pytest.raises(UserError, match=f"test.yaml: .*{message}"):
        _build(spec, in_chans=13, rgb=False)


def test_an_op_that_maps_to_unit_range_lets_unit_range_ops_follow_it():
    recipe = load_recipe("radiology_ct")
    recipe.view1 = recipe.view1[:1] + [{"op": "gamma", "p": 1.0}, {"op": "solarize", "p": 1.0}]
    views = build_two_views(recipe, 16, 1, torch.int16)
    out = views.view1(views.scaling(torch.randint(-1000, 1000, (2, 1, 16, 16), dtype=torch.int16)))
    assert out.min() >= 0 and out.max() <= 1
