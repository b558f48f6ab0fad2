"""The channel-stats baseline: per-band statistics of the transformed image, and train-only standardisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from byol_transfer.augment.scaling import Normalize, ValueScaling
from byol_transfer.augment.views import EvalTransform
from byol_transfer.config import ScalingSpec
from byol_transfer.features.extract import extract_features
from byol_transfer.features.channel_stats import (
    STATISTICS,
    ChannelStats,
    channel_stats,
    feature_names,
    standardize,
)

# 2 images × 2 bands × 2×2 pixels, statistics worked out by hand below
IMAGES = torch.tensor([
    [[[0.0, 1.0], [2.0, 3.0]], [[10.0, 10.0], [10.0, 10.0]]],
    [[[4.0, 0.0], [0.0, 0.0]], [[-1.0, 1.0], [-1.0, 1.0]]],
])
# mean, std (population), min, max, p5, p50, p95; percentiles interpolate linearly at q·(n−1) = 0.15, 1.5, 2.85
EXPECTED = torch.tensor([
    [1.5, math.sqrt(1.25), 0.0, 3.0, 0.15, 1.5, 2.85, 10.0, 0.0, 10.0, 10.0, 10.0, 10.0, 10.0],
    [1.0, math.sqrt(3.0), 0.0, 4.0, 0.0, 0.0, 3.4, 0.0, 1.0, -1.0, 1.0, -1.0, 0.0, 1.0],
])


def test_hand_computed_statistics_band_major():
    features = channel_stats(IMAGES)
    assert features.dtype == torch.float32 and features.shape == (2, 14)
    torch.testing.assert_close(features, EXPECTED, atol=1e-6, rtol=0)
    assert feature_names(2)[7:9] == ["band1.mean", "band1.std"]


def test_percentiles_match_numpy_on_random_images():
    images = torch.randn(3, 4, 9, 7)
    features = channel_stats(images).view(3, 4, len(STATISTICS))
    flat = images.flatten(2).numpy()
    for name, q in (("p5", 5), ("p50", 50), ("p95", 95)):
        np.testing.assert_allclose(features[..., STATISTICS.index(name)].numpy(), np.percentile(flat, q, axis=-1),
                                   atol=1e-5)


def test_shuffling_pixels_changes_nothing():
    images = torch.rand(4, 3, 8, 8)
    flat = images.flatten(2)
    shuffled = torch.stack([flat[:, c, torch.randperm(64)] for c in range(3)], dim=1).view_as(images)
    assert not torch.equal(shuffled, images)
    torch.testing.assert_close(channel_stats(shuffled), channel_stats(images))


@pytest.mark.parametrize("bands", [1, 3, 13])
def test_seven_features_per_band(bands):
    images = torch.rand(5, bands, 6, 6)
    assert channel_stats(images).shape == (5, 7 * bands)
    module = ChannelStats(bands)
    assert module.num_features == 7 * bands == len(feature_names(bands))
    assert module(images).shape == (5, 7 * bands)


def test_statistics_are_of_the_transformed_image():
    """As a frozen backbone sees it: value scaling, then normalisation (the init's EvalTransform)."""
    raw = torch.randint(0, 10000, (2, 2, 4, 4)).to(torch.int16)
    transform = EvalTransform(ValueScaling(ScalingSpec(kind="divide", value=10000.0)),
                              Normalize([0.5, 0.2], [0.1, 0.3]))
    expected = channel_stats((raw.float() / 10000 - torch.tensor([0.5, 0.2]).view(1, 2, 1, 1))
                             / torch.tensor([0.1, 0.3]).view(1, 2, 1, 1))
    torch.testing.assert_close(channel_stats(raw, transform), expected)
    torch.testing.assert_close(ChannelStats(2)(transform(raw)), expected)
    assert not torch.allclose(channel_stats(raw.float()), expected)


def test_stands_in_for_a_backbone_in_feature_extraction():
    """The sweep's extractor applies the init's transform, then the "backbone": the same numbers."""
    raw = torch.randint(0, 255, (5, 3, 8, 8), dtype=torch.uint8)
    data = [{"image": raw[i], "label": i % 2} for i in range(5)]
    transform = EvalTransform(ValueScaling(ScalingSpec(kind="auto")), Normalize([0.4] * 3, [0.2] * 3))
    features, labels = extract_features(ChannelStats(3), data, transform, batch_size=2)
    torch.testing.assert_close(features, channel_stats(raw, transform))
    assert labels.tolist() == [0, 1, 0, 1, 0]


def test_refuses_a_wrong_channel_count_and_shape():
    with pytest.raises(ValueError, match="3-channel"):
        ChannelStats(2)(torch.rand(1, 3, 4, 4))
    with pytest.raises(ValueError, match="B × C × H × W"):
        channel_stats(torch.rand(3, 4, 4))


def test_its_state_dict_holds_its_definition_so_caches_and_identity_checks_see_a_change():
    from byol_transfer.features.cache import state_fingerprint

    a, b = ChannelStats(3), ChannelStats(3)
    assert state_fingerprint(a) == state_fingerprint(b)
    b.quantiles[0] = 0.1
    assert state_fingerprint(a) != state_fingerprint(b)


def test_standardize_uses_the_training_rows_only():
    train = torch.tensor([[1.0, 100.0], [3.0, 300.0]])  # mean (2, 200), std (1, 100)
    test = torch.tensor([[2.0, 400.0], [1000.0, -5.0]])
    z_train, z_test = standardize(train, test)
    torch.testing.assert_close(z_train, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    torch.testing.assert_close(z_test, torch.tensor([[0.0, 2.0], [998.0, -2.05]]))
    # the test rows do not move the training rows' statistics
    z_train_again, _ = standardize(train, test * 50)
    torch.testing.assert_close(z_train_again, z_train)


def test_standardize_leaves_constant_features_at_zero_not_nan():
    train = torch.tensor([[5.0, 1.0], [5.0, 2.0]])
    z_train, z_test = standardize(train, torch.tensor([[7.0, 1.5]]))
    assert torch.isfinite(z_train).all() and torch.isfinite(z_test).all()
    assert z_train[:, 0].eq(0).all()
    assert z_test[0, 0] == 2.0  # off by 2 from the training constant, in raw units
