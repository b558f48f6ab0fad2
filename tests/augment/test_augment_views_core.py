"""The two-view contract every recipe relies on (recipe-specific tests live beside this file)."""

import kornia.augmentation as K
import pytest
import torch

from byol_transfer.augment.recipes import build_two_views, load_recipe
from byol_transfer.errors import UserError


def _constant_batch(n: int = 8, size: int = 32) -> torch.Tensor:
    # identical images: any difference between outputs comes from per-sample random parameters
    image = torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return image.expand(n, -1, -1, -1).clone()


def test_parameters_differ_between_samples_of_one_batch():
    views = build_two_views(load_recipe("natural_rgb"), 32, 3)
    v1, v2 = views(_constant_batch())
    assert v1.shape == v2.shape == (8, 3, 32, 32)
    for view in (v1, v2):
        distinct = {tuple(view[i].flatten()[:64].tolist()) for i in range(len(view))}
        assert len(distinct) == len(view)
    first = views.view1._params[0].data  # the crop, fused with the flip that follows it
    crop_boxes = first["0.src"] if "0.src" in first else first["src"]
    assert not torch.allclose(crop_boxes[0], crop_boxes[1])


def test_same_seed_gives_same_views_and_views_are_asymmetric():
    views = build_two_views(load_recipe("natural_rgb"), 32, 3)
    torch.manual_seed(3)
    a1, a2 = views(_constant_batch())
    torch.manual_seed(3)
    b1, b2 = views(_constant_batch())
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    # our solarize is a faster subclass of Kornia's
    solarize1 = [m for m in views.view1.children() if isinstance(m, K.RandomSolarize)]
    solarize2 = [m for m in views.view2.children() if isinstance(m, K.RandomSolarize)]
    assert solarize2 and not solarize1


def test_views_are_normalised_last():
    recipe = load_recipe("natural_rgb")
    recipe.view1, recipe.view2 = [], []
    views = build_two_views(recipe, 8, 3)
    x = torch.full((2, 3, 8, 8), 255, dtype=torch.uint8)
    v1, _ = views(x)
    expected = (1.0 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(v1[0, :, 0, 0], expected)


def test_paper_recipe_has_the_papers_parameters():
    recipe = load_recipe("natural_rgb")
    ops1 = {op["op"]: op for op in recipe.view1}
    ops2 = {op["op"]: op for op in recipe.view2}
    assert ops1["color_jitter"] == {"op": "color_jitter", "p": 0.8, "brightness": 0.4, "contrast": 0.4,
                                    "saturation": 0.2, "hue": 0.1}
    assert ops1["gaussian_blur"]["p"] == 1.0 and ops2["gaussian_blur"]["p"] == 0.1
    assert "solarize" not in ops1 and ops2["solarize"]["p"] == 0.2
    assert ops1["grayscale"]["p"] == ops2["grayscale"]["p"] == 0.2
    assert ops1["random_resized_crop"]["scale"] == [0.08, 1.0]


def test_rgb_only_op_refused_on_multispectral_data():
    recipe = load_recipe("natural_rgb")
    recipe.channels.count = "any"
    with pytest.raises(UserError, match="op 'color_jitter' needs 3-channel RGB data, but the data have 13"):
        build_two_views(recipe, 32, 13)


def test_unknown_op_parameter_is_named():
    recipe = load_recipe("natural_rgb")
    recipe.view1 = [{"op": "horizontal_flip", "prob": 0.5}]
    with pytest.raises(UserError, match="op 'horizontal_flip' has no parameter 'prob'"):
        build_two_views(recipe, 32, 3)
