"""Weak/strong views from the recipe's ops, and pixel alignment of the student's view with the teacher's map."""

from __future__ import annotations

import pytest
import torch

from byol_transfer.augment.recipes import build_eval_transform, load_recipe, recipe_from_dict
from byol_transfer.semisup.views import (
    AlignedStrongView,
    WeakStrongViews,
    narrow_crop_scale,
    split_geometric,
    with_crop_scale,
)


def unit_recipe(view: list[dict]):
    """1-channel uint8 data scaled to [0, 1], normalised with mean 0.5 / std 0.25."""
    return recipe_from_dict({"name": "t", "channels": {"count": "any"}, "scaling": {"kind": "auto"},
                             "normalize": {"mean": [0.5], "std": [0.25]}, "view1": view, "view2": view}, "t")


def denormalize(x: torch.Tensor) -> torch.Tensor:
    return x * 0.25 + 0.5


def l_shape(n: int, size: int = 16) -> torch.Tensor:
    """n copies of an asymmetric L (no flip or quarter turn maps it onto itself), uint8."""
    image = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    image[:, :, 2:12, 3:6] = 255
    image[:, :, 9:12, 3:11] = 255
    return image


def test_split_keeps_recipe_order_and_crop_scale_is_replaced():
    recipe = load_recipe("satellite_rgb")
    geometric, photometric = split_geometric(recipe.view1)
    assert [s["op"] for s in geometric] == ["random_resized_crop", "horizontal_flip", "vertical_flip", "rotate90"]
    assert [s["op"] for s in photometric] == ["color_jitter", "grayscale", "gaussian_blur"]
    assert with_crop_scale(geometric, (0.25, 1.0))[0]["scale"] == [0.25, 1.0]
    assert with_crop_scale(geometric, None)[0]["scale"] == [0.08, 1.0]
    # the strong view only loses the smallest crops: 8 % → 25 %, but grayscale's milder 30 % stays
    assert narrow_crop_scale(geometric, (0.25, 1.0))[0]["scale"] == [0.25, 1.0]
    assert narrow_crop_scale(load_recipe("grayscale").view1, (0.25, 1.0))[0]["scale"] == [0.3, 1.0]


def test_teacher_map_follows_flips_and_quarter_turns_exactly():
    recipe = unit_recipe([{"op": "horizontal_flip", "p": 0.5}, {"op": "vertical_flip", "p": 0.5},
                          {"op": "rotate90", "p": 1.0}])
    view = AlignedStrongView(recipe, build_eval_transform(recipe, 1), 16, 1, num_classes=2,
                             input_dtype=torch.uint8, crop_scale=None)
    raw = l_shape(32)
    mask = (raw[:, 0] > 0).long()
    probabilities = torch.stack([1 - mask, mask], 1).float()  # a teacher that is exactly right
    student, aligned = view(raw, probabilities)
    warped_mask = (denormalize(student[:, 0]) > 0.5).long()
    assert torch.equal(aligned.argmax(1), warped_mask)  # every pixel of every sample lines up
    assert torch.equal(aligned.sum(1), torch.ones(32, 16, 16))  # permutations: nothing lost or mixed
    orientations = {tuple(m.flatten().tolist()) for m in warped_mask}
    assert len(orientations) >= 4  # per-sample parameters: several of the 8 orientations in one batch
    assert any(not torch.equal(m, mask[0]) for m in warped_mask)


def test_teacher_map_follows_resized_crops_and_photometric_ops_change_the_image_only():
    recipe = unit_recipe([{"op": "random_resized_crop", "scale": [0.08, 1.0]}, {"op": "horizontal_flip", "p": 0.5},
                          {"op": "rotate90", "p": 1.0}, {"op": "brightness", "p": 1.0, "factor": 0.2}])
    view = AlignedStrongView(recipe, build_eval_transform(recipe, 1), 16, 1, num_classes=2,
                             input_dtype=torch.uint8, crop_scale=(0.25, 1.0))
    torch.manual_seed(0)
    raw = torch.randint(0, 256, (16, 1, 16, 16), dtype=torch.uint8)
    x = raw.float() / 255
    probabilities = torch.cat([x, 1 - x], 1)  # a pixel-wise teacher: its map is the image itself
    student, aligned = view(raw, probabilities)
    # brightness adds one offset per sample; after removing it, image and map agree pixel for pixel
    difference = denormalize(student[:, 0]) - aligned[:, 0]
    offsets = difference.flatten(1).mean(1)
    assert torch.allclose(difference, offsets.view(-1, 1, 1).expand_as(difference), atol=1e-5)
    assert offsets.abs().max() > 0.01  # the photometric op did change the image
    assert not torch.allclose(aligned[:, 0], x[:, 0], atol=1e-3)  # and the crops did move pixels


def test_weak_view_is_geometric_only_and_strong_views_differ_per_sample():
    recipe = load_recipe("satellite_rgb")
    transform = build_eval_transform(recipe, 3)
    views = WeakStrongViews(recipe, transform, 32, 3, torch.uint8)
    levels = torch.arange(16, dtype=torch.uint8) * 10 + 40
    raw = levels.view(-1, 1, 1, 1).expand(16, 3, 32, 32).contiguous()  # constant images, one level each
    torch.manual_seed(0)
    weak, strong = views(raw)
    assert weak.shape == strong.shape == (16, 3, 32, 32)
    # moving pixels around leaves a constant image as it was: the weak view is the evaluation input
    assert torch.allclose(weak, transform(raw), atol=1e-5)
    # the strong view jitters colour with per-sample parameters: same-level inputs come out different
    same = torch.full((16, 3, 32, 32), 120, dtype=torch.uint8)
    _, strong_same = views(same)
    assert len({round(float(s.mean()), 4) for s in strong_same}) > 8


def test_geometric_ops_accept_any_channel_count_but_the_recipe_channel_contract_still_holds():
    from byol_transfer.errors import UserError

    recipe = load_recipe("satellite_rgb")
    with pytest.raises(UserError, match="accepts 3 channel"):
        AlignedStrongView(recipe, build_eval_transform(load_recipe("satellite_multispectral"), 4), 32, 4, 2,
                          torch.uint16)


@pytest.mark.parametrize("name, channels, dtype", [
    ("natural_rgb", 3, torch.uint8), ("satellite_rgb", 3, torch.uint8), ("histopathology_he", 3, torch.uint8),
    ("grayscale", 1, torch.uint8), ("radiology_xray", 1, torch.uint8), ("radiology_ct", 1, torch.int16),
    ("satellite_multispectral", 13, torch.int16), ("satellite_multispectral", 4, torch.int16),
])
def test_every_builtin_recipe_gives_weak_strong_and_aligned_views(name, channels, dtype):
    recipe = load_recipe(name)
    transform = build_eval_transform(recipe, channels)
    low, high = (-1000, 1000) if name == "radiology_ct" else (0, 255 if dtype == torch.uint8 else 5000)
    raw = torch.randint(low, high, (6, channels, 32, 32)).to(dtype)
    weak, strong = WeakStrongViews(recipe, transform, 32, channels, dtype)(raw)
    student, aligned = AlignedStrongView(recipe, transform, 32, channels, 3, dtype)(raw, torch.rand(6, 3, 32, 32))
    for out in (weak, strong, student):
        assert out.shape == (6, channels, 32, 32) and torch.isfinite(out).all()
    assert aligned.shape == (6, 3, 32, 32) and torch.isfinite(aligned).all()
