import numpy as np
import pytest
import torch

from byol_transfer.augment.recipes import build_eval_transform, load_recipe
from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.features import cache as cache_module
from byol_transfer.features.cache import cached_features
from byol_transfer.features.linear_probe import linear_probe
from byol_transfer.models.backbones import create_backbone, feature_dim
from tests.conftest import write_image_folder


def test_features_are_cached_by_weights_and_data(tmp_path, monkeypatch):
    torch.manual_seed(0)
    backbone = create_backbone("byol_tiny_cnn", in_chans=1).eval()
    transform = build_eval_transform(load_recipe("grayscale"), 1)
    data = ImageFolderDataset(write_image_folder(tmp_path / "images", 6, channels=1), 16)
    first = cached_features(backbone, data, transform, tmp_path / "cache")
    assert first.shape == (6, feature_dim(backbone)) and len(list((tmp_path / "cache").iterdir())) == 1

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again despite the cache")

    monkeypatch.setattr(cache_module, "extract_features", no_extraction)
    assert torch.equal(cached_features(backbone, data, transform, tmp_path / "cache"), first)
    with torch.no_grad():  # other weights → another key → extraction
        next(backbone.parameters()).add_(1.0)
    with pytest.raises(AssertionError, match="extracted again"):
        cached_features(backbone, data, transform, tmp_path / "cache")


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
