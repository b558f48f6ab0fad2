"""Ops that compute only the selected samples: untouched rows, in-place writes only into a view's own tensor,
and Gaussian noise that replays from a stored seed."""

import torch

from byol_transfer.augment.ops.band_jitter import RandomBandBrightnessContrast
from byol_transfer.augment.ops.gaussian_noise import RandomGaussianNoise
from byol_transfer.augment.recipes import build_two_views, list_recipes


def test_unselected_samples_are_bit_identical_on_the_whole_batch_path():
    op = RandomBandBrightnessContrast(0.3, 0.3, p=0.8)  # most samples selected: neutral-parameter path
    x = torch.rand(64, 4, 8, 8)
    out = op(x)
    skipped = op._params["batch_prob"] < 0.5
    assert 0 < skipped.sum() < 32
    assert torch.equal(out[skipped], x[skipped])
    assert not torch.equal(out[~skipped], x[~skipped])


def test_noise_is_drawn_per_sample_replays_and_skips_unselected_samples():
    op = RandomGaussianNoise(std=0.1, p=0.5)
    x = torch.zeros(64, 3, 16, 16)
    out = op(x)
    chosen = op._params["batch_prob"] > 0.5
    assert torch.equal(out[~chosen], x[~chosen])
    noise = out[chosen]
    assert abs(noise.mean().item()) < 0.01 and abs(noise.std().item() - 0.1) < 0.01
    assert not torch.equal(noise[0], noise[1])
    assert torch.equal(op(x, params=op._params), out)


def test_views_never_modify_the_batch_they_are_given():
    for recipe in list_recipes():
        channels = 4 if recipe.channels.count == "any" else recipe.channels.count
        dtype = torch.int16 if recipe.scaling.kind == "ct_window" else torch.uint8
        views = build_two_views(recipe, 16, channels, dtype)
        x = views.scaling(torch.randint(0, 200, (8, channels, 16, 16)).to(dtype))
        before = x.clone()
        views.view1(x)
        views.view2(x)
        assert torch.equal(x, before), recipe.name
