import torch

from byol_transfer.features.knn import knn_accuracy, knn_predict, knn_votes


def clusters(n_per_class: int, num_classes: int, dim: int = 16, seed: int = 0):
    """Well-separated features: each class around its own orthogonal direction."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(dim)[:num_classes] * 10
    labels = torch.arange(num_classes).repeat_interleave(n_per_class)
    return centres[labels] + torch.randn(len(labels), dim, generator=g) * 0.1, labels


def test_knn_is_perfect_on_well_separated_features():
    train_f, train_y = clusters(20, 5, seed=0)
    test_f, test_y = clusters(10, 5, seed=1)
    acc = knn_accuracy(train_f, train_y, test_f, test_y, ks=(10, 20, 200))
    assert acc == {10: 1.0, 20: 1.0, 200: 1.0}


def test_knn_handles_seven_test_images():
    # DINO's chunk size n_test // 100 is 0 for 7 test images; ours must still classify all of them
    train_f, train_y = clusters(10, 3, seed=0)
    test_f, test_y = clusters(3, 3, seed=1)
    test_f, test_y = test_f[:7], test_y[:7]
    preds = knn_predict(train_f, train_y, test_f, ks=(1, 5))
    assert all(len(p) == 7 for p in preds.values())
    assert all(torch.equal(p, test_y) for p in preds.values())


def test_k_larger_than_the_training_set_uses_every_sample():
    train_f, train_y = clusters(2, 3, seed=0)  # 6 training samples
    test_f, test_y = clusters(4, 3, seed=1)
    acc = knn_accuracy(train_f, train_y, test_f, test_y, ks=(200,))
    assert acc[200] == 1.0  # the exp(sim/T) weights still let the nearest class win


def test_votes_are_probabilities_whose_argmax_is_the_prediction():
    train_f, train_y = clusters(5, 4, seed=0)
    test_f, _ = clusters(3, 4, seed=1)
    votes = knn_votes(train_f, train_y, test_f, ks=(3, 20), num_classes=6, chunk_size=5)
    preds = knn_predict(train_f, train_y, test_f, ks=(3, 20), num_classes=6)
    for k in (3, 20):
        assert votes[k].shape == (12, 6)
        assert torch.allclose(votes[k].sum(1), torch.ones(12))
        assert torch.equal(votes[k].argmax(1), preds[k])


def test_small_temperature_neither_overflows_nor_zeroes_the_votes():
    train_f, train_y = clusters(5, 3, seed=0)
    test_f, test_y = clusters(2, 3, seed=1)
    votes = knn_votes(-train_f, train_y, test_f, ks=(5,), temperature=0.001)[5]  # all similarities ≈ −1
    assert torch.isfinite(votes).all() and torch.allclose(votes.sum(1), torch.ones(6))
