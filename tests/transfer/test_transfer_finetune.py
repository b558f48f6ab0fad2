import numpy as np
import pytest
import torch

from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.features.extract import load_images
from byol_transfer.transfer.evaluators.finetune import FinetuneSettings
from byol_transfer.transfer.geometry import Geometry, augment_chw, build_train_augment
from byol_transfer.transfer.inits import build_inits
from byol_transfer.transfer.tasks.classification import finetune_classifier


def _split(folder, n_train_per_class):
    data = ImageFolderDataset(folder, 16, labeled=True)
    images, labels = load_images(data), np.asarray(data.labels)
    train = np.concatenate([np.flatnonzero(labels == c)[:n_train_per_class] for c in np.unique(labels)])
    test = np.setdiff1d(np.arange(len(labels)), train)
    return images, labels, train, test


def test_finetuning_beats_chance_on_an_easy_task(labelled_folder):
    # horizontal vs vertical stripes vs checkerboard, 16 px, tiny encoder from random init
    images, labels, train, test = _split(labelled_folder(16, num_classes=3), 10)
    (init,) = build_inits(["random"], 1, arch="byol_tiny_cnn", recipe="grayscale")
    before = {k: v.clone() for k, v in init.backbone.state_dict().items()}
    proba, result = finetune_classifier(
        init.backbone, init.num_features, init.transform,
        images[train[::2]], labels[train[::2]], images[train[1::2]], labels[train[1::2]], images[test],
        num_classes=3, geometry=Geometry(), seed=0,
        settings=FinetuneSettings(epochs=6, batch_size=16, lr=3e-3, min_epoch_samples=64),
    )
    accuracy = (proba.argmax(1) == labels[test]).mean()
    assert accuracy >= 0.7, accuracy  # chance is 1/3
    assert proba.shape == (len(test), 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert 1 <= result.best_epoch <= result.epochs_run <= 6 and result.validated
    assert all(torch.equal(before[k], v) for k, v in init.backbone.state_dict().items())  # trains a copy


def test_finetuning_without_validation_data_runs_all_epochs(labelled_folder):
    images, labels, train, test = _split(labelled_folder(3), 1)  # one label per class, nothing to validate on
    (init,) = build_inits(["random"], 1, arch="byol_tiny_cnn", recipe="grayscale")
    _, result = finetune_classifier(init.backbone, init.num_features, init.transform, images[train], labels[train],
                                    images[:0], labels[:0], images[test], 2, Geometry(),
                                    FinetuneSettings(epochs=2, min_epoch_samples=32), seed=0)
    assert result.epochs_run == result.best_epoch == 2 and not result.validated


@pytest.mark.parametrize("channels", [1, 3, 4, 13])
def test_train_augmentation_handles_any_channel_count(channels):
    augment = build_train_augment(16, Geometry(hflip=True, vflip=True, rot90=True, rotation_degrees=10), seed=0)
    image = torch.rand(channels, 20, 20) * 3.0  # floats outside [0, 1], e.g. reflectance after scaling
    out = augment_chw(augment, image)
    assert out.shape == (channels, 16, 16) and out.dtype == torch.float32


def test_geometry_follows_the_recipe():
    from byol_transfer.augment.recipes import load_recipe

    assert Geometry.from_recipe(load_recipe("natural_rgb")) == Geometry(hflip=True)
    assert Geometry.from_recipe(load_recipe("grayscale")) == Geometry(rotation_degrees=10.0)


def test_patience_zero_trains_every_epoch_and_keeps_the_best():
    from byol_transfer.augment.recipes import build_eval_transform, load_recipe
    from byol_transfer.models.backbones import create_backbone, feature_dim

    torch.manual_seed(0)
    images = torch.randint(0, 256, (24, 1, 16, 16), dtype=torch.uint8)
    labels = np.arange(24) % 2  # random images: validation accuracy stops improving early
    backbone = create_backbone("byol_tiny_cnn", in_chans=1)
    transform = build_eval_transform(load_recipe("grayscale"), 1)
    runs = {}
    for patience in (1, 0):
        _, runs[patience] = finetune_classifier(
            backbone, feature_dim(backbone), transform, images[:16], labels[:16], images[16:], labels[16:],
            images[:4], 2, Geometry(), FinetuneSettings(epochs=8, batch_size=8, min_epoch_samples=16,
                                                        patience=patience), 0)
    assert runs[1].epochs_run < 8  # patience 1 stopped
    assert runs[0].epochs_run == 8 and runs[0].validated  # 0: every epoch, still selecting on val
    assert 1 <= runs[0].best_epoch <= 8
