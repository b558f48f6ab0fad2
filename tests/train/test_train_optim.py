import pytest
import torch
from torch import nn

from byol_transfer.config import OptimConfig
from byol_transfer.train.optim import LARS, build_optimizer, lr_factor, parameter_groups, scaled_lr


def test_lr_scales_with_batch_size():
    assert scaled_lr(OptimConfig(base_lr=0.2), 4096) == pytest.approx(3.2)
    assert scaled_lr(OptimConfig(base_lr=0.2), 128) == pytest.approx(0.1)


def test_warmup_then_cosine():
    K = 100
    assert lr_factor(0, K, 0.1) == pytest.approx(0.1)  # (0 + 1) / 10 warmup steps
    assert lr_factor(9, K, 0.1) == pytest.approx(1.0)
    assert lr_factor(10, K, 0.1) == pytest.approx(1.0)
    assert lr_factor(55, K, 0.1) == pytest.approx(0.5)
    assert lr_factor(100, K, 0.1) == pytest.approx(0.0, abs=1e-9)
    assert lr_factor(100, K, 0.1, final_fraction=0.01) == pytest.approx(0.01)


def test_bias_and_norm_parameters_get_no_weight_decay_or_adaptation():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    decay, no_decay = parameter_groups(model, 1e-6)
    assert {p.ndim for p in decay["params"]} == {2, 4}
    assert {p.ndim for p in no_decay["params"]} == {1}
    assert no_decay["weight_decay"] == 0 and no_decay["lars_exclude"]
    optimizer = build_optimizer(model, OptimConfig(name="lars"), 256)
    assert isinstance(optimizer, LARS)


def test_lars_step_uses_the_trust_ratio_for_weights_and_plain_sgd_for_biases():
    weight = nn.Parameter(torch.full((2, 2), 2.0))  # norm 4
    bias = nn.Parameter(torch.zeros(2))
    weight.grad = torch.full((2, 2), 0.5)  # norm 1
    bias.grad = torch.ones(2)
    optimizer = LARS(
        [{"params": [weight], "lars_exclude": False}, {"params": [bias], "lars_exclude": True}],
        lr=1.0, momentum=0.9, trust_coefficient=0.001,
    )
    optimizer.step()
    # weight: update = grad × 0.001 × 4 / 1 = 0.002 per entry
    torch.testing.assert_close(weight.data, torch.full((2, 2), 2.0 - 0.002))
    torch.testing.assert_close(bias.data, torch.full((2,), -1.0))
