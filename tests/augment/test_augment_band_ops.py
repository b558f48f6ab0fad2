"""Band-wise ops for any channel count: band_jitter, band_grayscale, band_dropout."""

import pytest
import torch

from byol_transfer.augment.ops.band_dropout import RandomBandDropout, band_dropout
from byol_transfer.augment.ops.band_grayscale import RandomBandGrayscale, band_grayscale
from byol_transfer.augment.ops.band_jitter import RandomBandBrightnessContrast


def _bands(n: int = 6, c: int = 13, size: int = 12) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(2)) * 0.4


@pytest.mark.parametrize("channels", [1, 4, 13])
def test_band_jitter_draws_a_factor_per_band_and_sample_and_applies_the_formula(channels):
    op = RandomBandBrightnessContrast(brightness=0.3, contrast=0.3, p=1.0)
    x = _bands(c=channels)
    out = op(x)
    gain, contrast = op._params["band_gain"], op._params["band_contrast"]
    assert gain.shape == contrast.shape == (6, channels)
    assert ((gain >= 0.7) & (gain <= 1.3)).all() and ((contrast >= 0.7) & (contrast <= 1.3)).all()
    assert len(set(gain.flatten().tolist())) == gain.numel()  # independent draws
    mean = x.mean((-2, -1), keepdim=True)
    expected = gain[..., None, None] * (mean + contrast[..., None, None] * (x - mean))
    torch.testing.assert_close(out, expected)
    assert out.shape == x.shape


def test_band_jitter_clip_keeps_unit_range_and_same_on_batch_shares_factors():
    op = RandomBandBrightnessContrast(brightness=0.9, contrast=0.9, clip=True, p=1.0, same_on_batch=True)
    out = op(torch.rand(4, 3, 8, 8))
    assert out.min() >= 0 and out.max() <= 1
    gain = op._params["band_gain"]
    assert torch.equal(gain[0], gain[3])


def test_band_grayscale_keeps_the_channel_count_and_uses_the_weights():
    x = _bands(c=4)
    out = RandomBandGrayscale(p=1.0)(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, x.mean(1, keepdim=True).expand_as(x))
    weighted = RandomBandGrayscale([1, 1, 2, 0], p=1.0)(x)
    expected = (x[:, 0] + x[:, 1] + 2 * x[:, 2]) / 4
    torch.testing.assert_close(weighted[:, 3], expected)


def test_band_grayscale_weights_must_match_the_band_count():
    with pytest.raises(ValueError, match="3 values for 13-channel data"):
        band_grayscale(64, 13, weights=[1, 2, 3])


def test_band_dropout_replaces_one_to_max_bands_by_their_mean():
    op = RandomBandDropout(max_bands=3, p=1.0)
    x = _bands(n=40, c=13)
    out = op(x)
    keep = op._params["band_keep"]
    dropped = (keep == 0).sum(1)
    assert dropped.min() >= 1 and dropped.max() <= 3 and len(set(dropped.tolist())) > 1
    for i in range(3):
        for c in range(13):
            if keep[i, c] == 0:
                torch.testing.assert_close(out[i, c], x[i, c].mean().expand(12, 12))
            else:
                assert torch.equal(out[i, c], x[i, c])
    constant = RandomBandDropout(max_bands=1, fill=0.0, p=1.0)
    out = constant(x)
    assert ((out == 0).flatten(2).all(2).sum(1) == 1).all()


def test_band_dropout_never_drops_every_band():
    with pytest.raises(ValueError, match=r"max_bands must be an integer in \[1, 3\]"):
        band_dropout(64, 4, max_bands=4)
    with pytest.raises(ValueError, match="would drop every one of 2 bands"):
        RandomBandDropout(max_bands=2, p=1.0)(torch.rand(2, 2, 8, 8))
