import pytest
import torch
from torch import nn

from byol_transfer.models.ema import ema_tau, ema_update_


@pytest.mark.parametrize("base", [0.996, 0.99])
def test_tau_cosine_schedule_start_middle_end(base):
    K = 1000
    assert ema_tau(0, K, base) == pytest.approx(base)
    assert ema_tau(K // 2, K, base) == pytest.approx((1 + base) / 2)
    assert ema_tau(K, K, base) == pytest.approx(1.0)
    assert ema_tau(K + 10, K, base) == pytest.approx(1.0)  # past the schedule the target stops


def test_tau_increases_monotonically():
    taus = [ema_tau(k, 100) for k in range(101)]
    assert all(b >= a for a, b in zip(taus, taus[1:]))
    assert taus[25] == pytest.approx(1 - 0.004 * (2**0.5 / 2 + 1) / 2)


def _net():
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def test_ema_update_equals_formula_and_copies_buffers():
    online, target = _net(), _net()
    online(torch.randn(8, 4))  # changes BN running stats of the online network
    before = {k: v.clone() for k, v in target.state_dict().items()}
    tau = 0.9
    ema_update_(target, online, tau)
    after, src = target.state_dict(), online.state_dict()
    for name, _ in online.named_parameters():
        expected = tau * before[name] + (1 - tau) * src[name]
        torch.testing.assert_close(after[name], expected)
    for name, _ in online.named_buffers():
        assert torch.equal(after[name], src[name])


def test_tau_one_leaves_target_unchanged_and_tau_zero_copies():
    online, target = _net(), _net()
    before = [p.clone() for p in target.parameters()]
    ema_update_(target, online, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, target.parameters()))
    ema_update_(target, online, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(online.parameters(), target.parameters()))
