import pytest
import torch

from byol_transfer.models.losses import byol_pair_loss, byol_symmetric_loss


def test_pair_loss_is_zero_for_identical_and_four_for_opposite_vectors():
    v = torch.randn(5, 8)
    assert byol_pair_loss(v, v.clone()).item() == pytest.approx(0.0, abs=1e-6)
    assert byol_pair_loss(v, -v).item() == pytest.approx(4.0, abs=1e-6)


def test_pair_loss_is_two_for_orthogonal_vectors_and_ignores_scale():
    p = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    z = torch.tensor([[0.0, 5.0], [2.0, 0.0]])
    assert byol_pair_loss(p, z).item() == pytest.approx(2.0)
    # 2 - 2cos(60°) = 1, whatever the vector lengths
    p = torch.tensor([[10.0, 0.0]])
    z = torch.tensor([[0.5, 0.5 * 3**0.5]])
    assert byol_pair_loss(p, z).item() == pytest.approx(1.0, abs=1e-6)


def test_symmetric_loss_sums_both_directions():
    # Summing (the paper) gives 8 for opposite pairs; averaging (lightly#1286) would give 4.
    v = torch.randn(4, 16)
    assert byol_symmetric_loss(v, v, -v, -v).item() == pytest.approx(8.0, abs=1e-5)
    p1, p2, z1, z2 = (torch.randn(6, 16) for _ in range(4))
    expected = byol_pair_loss(p1, z2) + byol_pair_loss(p2, z1)
    assert byol_symmetric_loss(p1, p2, z1, z2).item() == pytest.approx(expected.item())


def test_symmetric_loss_pairs_each_prediction_with_the_other_views_target():
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    # prediction of view 1 equals target of view 2 and vice versa → zero loss
    assert byol_symmetric_loss(a, b, b, a).item() == pytest.approx(0.0, abs=1e-6)
    assert byol_symmetric_loss(a, b, a, b).item() > 0.1


def test_target_with_gradient_is_refused():
    p = torch.randn(2, 4, requires_grad=True)
    with pytest.raises(ValueError, match="stop-gradient"):
        byol_pair_loss(p, torch.randn(2, 4, requires_grad=True))
