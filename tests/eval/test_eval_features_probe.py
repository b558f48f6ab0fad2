import numpy as np
import pytest
import torch

from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.eval import features as features_module
from byol_transfer.eval.features import cached_features, state_fingerprint
from byol_transfer.eval.inits import build_inits
from byol_transfer.eval.label_efficiency import LabelledData, SweepSettings, run_label_efficiency
from byol_transfer.eval.linear_probe import linear_probe


def test_features_are_cached_by_weights_and_data(labelled_folder, tmp_path, monkeypatch):
    (init,) = build_inits(["random"], 1, arch="byol_tiny_cnn", recipe="grayscale")
    data = ImageFolderDataset(labelled_folder(3), 16, labeled=True)
    first = cached_features(init.backbone, data, init.transform, tmp_path / "cache")
    assert first.shape == (6, init.num_features) and len(list((tmp_path / "cache").iterdir())) == 1

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again despite the cache")

    monkeypatch.setattr(features_module, "extract_features", no_extraction)
    assert torch.equal(cached_features(init.backbone, data, init.transform, tmp_path / "cache"), first)
    with torch.no_grad():  # other weights → another key → extraction
        next(init.backbone.parameters()).add_(1.0)
    with pytest.raises(AssertionError, match="extracted again"):
        cached_features(init.backbone, data, init.transform, tmp_path / "cache")


def test_linear_probe_selects_c_on_validation_and_separates_easy_features():
    rng = np.random.default_rng(0)
    y = rng.permutation(np.repeat([0, 1, 2], 30))
    x = np.eye(3)[y] * 3 + rng.normal(0, 0.3, (90, 3))
    result = linear_probe(x[:60], y[:60], x[60:75], y[60:75], x[75:], num_classes=4)
    assert result.selected_on_validation and result.C in (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)
    assert (result.predictions == y[75:]).all()
    assert result.probabilities.shape == (15, 4) and np.allclose(result.probabilities[:, 3], 0)
    # no validation data: a documented fixed C instead of a choice
    assert not linear_probe(x[:60], y[:60], x[:0], y[:0], x[75:], 3).selected_on_validation


def test_linear_probe_sweep_leaves_the_backbone_bit_identical(labelled_folder, tmp_path):
    data = LabelledData.from_dataset(ImageFolderDataset(labelled_folder(8), 16, labeled=True))
    (init,) = build_inits(["random"], 1, arch="byol_tiny_cnn", recipe="grayscale")
    init.backbone.train()  # even in train mode, feature extraction must not update BN statistics
    before = {k: v.clone() for k, v in init.backbone.state_dict().items()}
    settings = SweepSettings(fractions=(0.5, 1.0), seeds=(0,), evaluators=("linear",), progress=False)
    run_label_efficiency([init], data, tmp_path / "out", settings=settings)
    after = init.backbone.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # parameters and BN buffers alike
    assert state_fingerprint(init.backbone) == init.weights_hash
