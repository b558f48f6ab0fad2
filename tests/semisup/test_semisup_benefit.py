"""Tiny runs on constructed tasks where the unlabelled images clearly help.

In both, the labelled images come from one acquisition setting and the unlabelled and test images from a
range of them, a change the recipe declares label-preserving (its strong view applies it). Supervised
fine-tuning sees only the labelled setting (its augmentation is geometric) and falls short on the rest;
the semi-supervised run pseudo-labels unlabelled images where it is confident and trains on their strong
views, and so reaches the whole range.

- classification: a bright square in the left or right half; half of the unlabelled/test images are
  inverted (dark square on bright), which points a model that only knows "where is the bright part" the
  wrong way. Strong view: solarize with threshold 0 (inversion) for half of the samples.
- segmentation: squares on a background; unlabelled/test tiles have a random gain and offset (another
  sensor calibration). Strong view: random brightness and contrast.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from byol_transfer.augment.recipes import build_eval_transform, recipe_from_dict
from byol_transfer.models.backbones import create_backbone, feature_dim
from byol_transfer.transfer.evaluators.finetune import FinetuneSettings
from byol_transfer.transfer.evaluators.segment_finetune import SegFinetuneSettings
from byol_transfer.transfer.geometry import Geometry
from byol_transfer.transfer.metrics import metrics_from_counts
from byol_transfer.transfer.tasks.classification import finetune_classifier
from byol_transfer.transfer.tasks.segmentation.task import evaluate, train_segmentation
from byol_transfer.semisup import FixMatch, FixMatchSettings, MeanTeacher, MeanTeacherSettings, UnlabeledPool

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def one_band_recipe(name: str, strong: list[dict]):
    return recipe_from_dict({"name": name, "channels": {"count": 1}, "scaling": {"kind": "auto"},
                             "normalize": {"mean": [0.5], "std": [0.25]}, "view1": strong, "view2": strong}, name)


def to_uint8(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((np.clip(images, 0, 1) * 255).round().astype(np.uint8))


def left_or_right(n: int, rng: np.random.Generator, inverted: float = 0.0) -> tuple[torch.Tensor, np.ndarray]:
    """N×1×16×16 images: class 0 = a bright 5×5 square in the left half, 1 = in the right half; a
    fraction ``inverted`` of them (chosen at random) dark on bright."""
    images = np.full((n, 1, 16, 16), 0.1)
    labels = rng.integers(0, 2, n)
    for image, label in zip(images, labels):
        top, left = rng.integers(2, 10), rng.integers(0, 3) + (9 if label else 0)
        image[0, top:top + 5, left:left + 5] = 0.9
    images = np.clip(images + rng.normal(0, 0.03, images.shape), 0, 1)
    flip = rng.random(n) < inverted
    images[flip] = 1 - images[flip]
    return to_uint8(images), labels


def test_fixmatch_learns_the_inverted_half_from_unlabelled_images():
    recipe = one_band_recipe("polarity", [{"op": "solarize", "p": 0.5, "threshold": 0.0}])
    rng = np.random.default_rng(0)
    labelled, labels = left_or_right(6, rng)
    unlabelled, _ = left_or_right(256, rng, inverted=0.5)
    test, test_labels = left_or_right(200, rng, inverted=0.5)
    transform = build_eval_transform(recipe, 1)
    settings = FinetuneSettings(epochs=5, batch_size=8, min_epoch_samples=64, patience=100)

    def consistency(model: nn.Module) -> FixMatch:
        return FixMatch(UnlabeledPool(unlabelled, 0), recipe, transform, settings.batch_size,
                        FixMatchSettings(threshold=0.9, mu=4))

    accuracy = {}
    for semi in (False, True):
        torch.manual_seed(0)
        backbone = create_backbone("byol_tiny_cnn", in_chans=1)
        proba, result = finetune_classifier(backbone, feature_dim(backbone), transform, labelled, labels,
                                            labelled[:0], labels[:0], test, 2, Geometry(), settings, 0,
                                            consistency=consistency if semi else None)
        accuracy[semi] = float((proba.argmax(1) == test_labels).mean())
        if semi:
            assert result.consistency_stats["pseudo_label_rate"] > 0.5
    # measured: 0.65 supervised (the inverted half mostly wrong) vs 1.0
    assert accuracy[False] <= 0.8, accuracy
    assert accuracy[True] >= 0.95, accuracy


def squares_with_gain(n: int, rng: np.random.Generator, calibrated: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """N×1×16×16 tiles with two bright 5×5 squares (the class-1 pixels) on a dark background; tiles that
    are not ``calibrated`` get a random gain in [0.25, 1] and offset in [-0.25, 0.25] around 0.5."""
    images = np.full((n, 1, 16, 16), 0.1)
    masks = np.zeros((n, 16, 16), dtype=np.int64)
    for image, mask in zip(images, masks):
        for _ in range(2):
            top, left = rng.integers(0, 11, 2)
            image[0, top:top + 5, left:left + 5] = 0.9
            mask[top:top + 5, left:left + 5] = 1
    if not calibrated:
        gain, offset = rng.uniform(0.25, 1.0, (n, 1, 1, 1)), rng.uniform(-0.25, 0.25, (n, 1, 1, 1))
        images = 0.5 + gain * (images - 0.5) + offset
    return to_uint8(images + rng.normal(0, 0.02, images.shape)), torch.from_numpy(masks)


class TinySegNet(nn.Module):
    """Two convolutions plus the tile-wide mean of their features (global context, as a PSP/ASPP pooling
    branch gives), and a hidden 1×1 layer: which intensity is "square" depends on the tile's gain."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                     nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.head = nn.Sequential(nn.Conv2d(32, 16, 1), nn.ReLU(), nn.Conv2d(16, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        context = features.mean((2, 3), keepdim=True).expand_as(features)
        return self.head(torch.cat([features, context], 1))


def test_mean_teacher_learns_other_gains_from_unlabelled_tiles():
    recipe = one_band_recipe("gain", [{"op": "brightness", "p": 1.0, "factor": 0.25},
                                      {"op": "contrast", "p": 1.0, "factor": 0.7}])
    rng = np.random.default_rng(1)
    labelled, masks = squares_with_gain(6, rng, calibrated=True)
    unlabelled, _ = squares_with_gain(128, rng, calibrated=False)
    test, test_masks = squares_with_gain(64, rng, calibrated=False)
    transform = build_eval_transform(recipe, 1)
    settings = SegFinetuneSettings(epochs=10, batch_size=4, lr=1e-2, encoder_lr_mult=1.0, min_epoch_samples=48,
                                crop_scale=(1.0, 1.0))

    def consistency(student: nn.Module) -> MeanTeacher:
        return MeanTeacher(student, UnlabeledPool(unlabelled, 0), recipe, transform, 2, settings.batch_size,
                           MeanTeacherSettings(threshold=0.8, ema=0.9, rampup=0.1))

    miou = {}
    for semi in (False, True):
        torch.manual_seed(0)
        model = TinySegNet()
        train_segmentation(model, transform, labelled, masks, labelled[:0], masks[:0], ["background", "square"],
                           Geometry(), settings, 0, consistency=consistency if semi else None)
        counts, _ = evaluate(model, test, test_masks, transform, 2)
        miou[semi] = metrics_from_counts(counts, ["background", "square"])["mIoU"]
    # measured: 0.78 supervised vs 0.997
    assert miou[True] >= 0.9, miou
    assert miou[True] - miou[False] >= 0.1, miou
