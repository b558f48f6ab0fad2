"""HED stain jitter: the colour-deconvolution round trip, per-sample stain perturbations."""

import math

import numpy as np
import pytest
import torch

from byol_transfer.augment.ops.hed_jitter import RGB_FROM_HED, RandomHEDJitter


def _he_like(n: int = 5, size: int = 10) -> torch.Tensor:
    # pinkish-purple tissue colours in (0.2, 0.95)
    g = torch.Generator().manual_seed(4)
    base = torch.tensor([0.75, 0.45, 0.7]).view(1, 3, 1, 1)
    return (base + 0.2 * (torch.rand(n, 3, size, size, generator=g) - 0.5)).clamp(0.2, 0.95)


def _reference(image: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """scikit-image's rgb2hed → αs + β → hed2rgb, per pixel, without the stain clamp; H×W×3 in [0, 1]."""
    rgb_from_hed = np.array(RGB_FROM_HED)
    hed_from_rgb = np.linalg.inv(rgb_from_hed)
    log_adjust = np.log(1e-6)
    stains = (np.log(np.maximum(image, 1e-6)) / log_adjust) @ hed_from_rgb
    stains = stains * alpha + beta
    return np.clip(np.exp(-(stains * -log_adjust) @ rgb_from_hed), 0, 1)


def test_identity_parameters_return_the_input():
    op = RandomHEDJitter(p=1.0)
    x = _he_like()
    params = {"hed_alpha": torch.ones(5, 3), "hed_beta": torch.zeros(5, 3), "batch_prob": torch.ones(5)}
    torch.testing.assert_close(op(x, params=params), x, atol=1e-5, rtol=0)


def test_matches_the_scikit_image_formulation_per_sample():
    op = RandomHEDJitter(alpha=0.2, beta=0.05, p=1.0)
    x = _he_like()
    out = op(x)
    alpha, beta = op._params["hed_alpha"], op._params["hed_beta"]
    assert alpha.shape == beta.shape == (5, 3) and not torch.allclose(alpha[0], alpha[1])
    for i in range(5):
        expected = _reference(x[i].permute(1, 2, 0).double().numpy(), alpha[i].double().numpy(),
                              beta[i].double().numpy())
        np.testing.assert_allclose(out[i].permute(1, 2, 0).numpy(), expected, atol=1e-4)


def test_more_haematoxylin_darkens_mostly_red_and_green():
    # the haematoxylin vector (0.65, 0.70, 0.29) absorbs red and green more than blue
    op = RandomHEDJitter(p=1.0)
    x = _he_like()
    params = {"hed_alpha": torch.ones(5, 3), "hed_beta": torch.tensor([[0.05, 0.0, 0.0]]).expand(5, 3),
              "batch_prob": torch.ones(5)}
    ratio = (op(x, params=params) / x).mean((0, 2, 3))
    scale = 0.05 * -math.log(1e-6)
    torch.testing.assert_close(ratio, torch.exp(-scale * torch.tensor(RGB_FROM_HED[0])), atol=1e-3, rtol=0)


def test_refuses_non_rgb_input():
    with pytest.raises(ValueError, match="3-channel RGB"):
        RandomHEDJitter(p=1.0)(torch.rand(2, 4, 8, 8))
