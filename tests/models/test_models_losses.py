import pytest
import torch

from byol_transfer.models.losses import byol_multicrop_loss, byol_pair_loss, byol_symmetric_loss


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


def test_multicrop_loss_without_local_crops_is_the_symmetric_loss_bit_for_bit():
    p1, p2, z1, z2 = (torch.randn(6, 16) for _ in range(4))
    assert torch.equal(byol_multicrop_loss([p1, p2], [z1, z2]), byol_symmetric_loss(p1, p2, z1, z2))
    assert torch.equal(byol_multicrop_loss([p1, p2], [z1, z2], []), byol_symmetric_loss(p1, p2, z1, z2))


def test_multicrop_loss_equals_a_hand_computation():
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    diagonal = torch.tensor([[1.0, 1.0]])  # 45° from both axes: 2 − 2·cos 45° = 2 − √2
    # pairs: p1→z2 (orthogonal: 2), p2→z1 (orthogonal: 2), local e1→z1 (aligned: 0), local e1→z2 (2); mean × 2
    loss = byol_multicrop_loss([e1, e2], [e1, e2], [e1])
    assert loss.item() == pytest.approx(2 / 4 * (2 + 2 + 0 + 2))
    # two local crops: e1 (0 and 2) and the diagonal (2 − √2 against each target): 6 pairs
    loss = byol_multicrop_loss([e1, e2], [e1, e2], [e1, diagonal])
    assert loss.item() == pytest.approx(2 / 6 * (2 + 2 + 0 + 2 + 2 * (2 - 2**0.5)), abs=1e-6)
    # a global prediction is never paired with its own view's target: aligned with it costs nothing
    assert byol_multicrop_loss([e1, e2], [e2, e1]).item() == pytest.approx(0.0, abs=1e-6)


def test_multicrop_loss_pairs_each_local_crop_with_both_global_targets_per_sample():
    # batch of 2: the local crop of sample 0 matches both targets of sample 0 only if the pairing is per sample
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = z.clone()
    assert byol_multicrop_loss([p, p], [z, z], [z.clone()]).item() == pytest.approx(0.0, abs=1e-6)
    swapped = z.flip(0)  # the other sample's target: orthogonal, 2 per pair
    assert byol_multicrop_loss([p, p], [z, z], [swapped]).item() == pytest.approx(2 / 4 * (0 + 0 + 2 + 2))


def test_multicrop_loss_refuses_fewer_than_two_global_views_and_targets_with_gradient():
    v = torch.randn(3, 4)
    with pytest.raises(ValueError, match="at least 2 global views"):
        byol_multicrop_loss([v], [v])
    with pytest.raises(ValueError, match="stop-gradient"):
        byol_multicrop_loss([v, v], [v, torch.randn(3, 4, requires_grad=True)])
