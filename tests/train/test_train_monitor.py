"""The online k-NN monitor (--monitor-data): what it measures, its splits, and its place in metrics.csv."""

import csv

import numpy as np
import pytest
import torch
from torch import nn

from byol_transfer.cli import main
from byol_transfer.config import MonitorConfig
from byol_transfer.errors import UserError
from byol_transfer.train.monitor import KnnMonitor, stratified_pick
from tests.conftest import write_image_folder

TINY = ["--backbone", "byol_tiny_cnn", "--image-size", "16", "--batch-size", "8",
        "--set", "model.projector_hidden=32", "--set", "model.predictor_hidden=32",
        "--set", "data.num_workers=0", "--set", "optim.name=adamw", "--set", "optim.base_lr=0.01"]


def class_images(n_per_class: int, n_classes: int, noise: float = 0.05) -> tuple[torch.Tensor, np.ndarray]:
    """Images whose class c lights up channel c: linearly separable, one cluster per class."""
    g = torch.Generator().manual_seed(0)
    images, labels = [], []
    for c in range(n_classes):
        x = noise * torch.rand(n_per_class, n_classes, 4, 4, generator=g)
        x[:, c] += 1.0
        images.append(x)
        labels += [c] * n_per_class
    return torch.cat(images), np.array(labels)


class PooledWithBN(nn.Module):
    """A stand-in encoder with BatchNorm, so eval mode vs train mode is observable."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x).mean(dim=(2, 3))


def test_separable_classes_give_full_accuracy_and_the_encoder_is_left_as_found():
    images, labels = class_images(10, 3)
    encoder = PooledWithBN(3).train()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    monitor = KnnMonitor(images, labels, nn.Identity(), MonitorConfig(data="x", k=5))
    assert monitor(encoder) == pytest.approx(1.0)
    assert encoder.training  # mode restored
    # eval mode inside: BN running statistics were not updated by the monitor's forward passes
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())


def test_features_unrelated_to_the_labels_score_near_chance():
    images, labels = class_images(30, 3)
    shuffled = np.random.default_rng(0).permutation(labels)
    monitor = KnnMonitor(images, shuffled, nn.Identity(), MonitorConfig(data="x", k=5))
    assert monitor(PooledWithBN(3)) < 0.6  # chance is 1/3; 1.0 with the true labels


def test_bank_and_queries_are_disjoint_stratified_and_capped():
    images, labels = class_images(50, 4)
    monitor = KnnMonitor(images, labels, nn.Identity(), MonitorConfig(data="x", max_images=40, query_fraction=0.5))
    assert len(monitor.bank_labels) + len(monitor.query_labels) == 40
    assert sorted(np.bincount(monitor.query_labels.numpy())) == [5, 5, 5, 5]
    assert sorted(np.bincount(monitor.bank_labels.numpy())) == [5, 5, 5, 5]
    # disjoint: no query image also sits in the bank
    bank = {tuple(x.flatten().tolist()) for x in monitor.bank_images}
    assert not any(tuple(x.flatten().tolist()) in bank for x in monitor.query_images)


def test_stratified_pick_keeps_one_per_class_and_never_a_whole_class():
    labels = np.array([0] * 2 + [1] * 100)
    picked = stratified_pick(labels, 0.01, seed=0)
    assert (labels[picked] == 0).sum() == 1 and (labels[picked] == 1).sum() == 1
    picked = stratified_pick(labels, 0.99, seed=0)
    assert (labels[picked] == 0).sum() == 1 and (labels[picked] == 1).sum() == 99
    assert np.array_equal(picked, stratified_pick(labels, 0.99, seed=0))  # deterministic


def test_a_class_with_one_image_is_a_clear_error():
    images, labels = class_images(4, 2)
    labels[-4:-1] = 0  # class 1 keeps a single image
    with pytest.raises(UserError, match="single image"):
        KnnMonitor(images, labels, nn.Identity(), MonitorConfig(data="x"))


def labelled_folder(root, n_per_class=8, channels=3):
    for c, name in enumerate(["forest", "sea"]):
        write_image_folder(root / name, n_per_class, channels, size=16, seed=c)
    return root


def test_pretrain_logs_knn_accuracy_every_n_steps_and_at_the_end(capsys, image_folder, tmp_path):
    data = image_folder(24, 3)  # 3 steps per epoch, 2 epochs = 6 steps
    monitor = labelled_folder(tmp_path / "labelled")
    code = main(["-q", "pretrain", "--config", "natural_rgb", "--data", str(data), "--out", str(tmp_path / "run"),
                 *TINY, "--epochs", "2", "--monitor-data", str(monitor), "--monitor-every", "4"])
    assert code == 0, capsys.readouterr().err
    with (tmp_path / "run" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    checked = {int(r["step"]): float(r["knn_acc"]) for r in rows if r["knn_acc"] != ""}
    assert sorted(checked) == [4, 6]
    assert all(0.0 <= v <= 1.0 for v in checked.values())
    # the monitor is part of the run's config, so --resume keeps it
    assert "monitor:" in (tmp_path / "run" / "config.yaml").read_text()


def test_monitor_data_with_other_channels_is_a_clear_error(capsys, image_folder, tmp_path):
    data = image_folder(16, 3)
    monitor = labelled_folder(tmp_path / "labelled", channels=1)
    code = main(["-q", "pretrain", "--config", "natural_rgb", "--data", str(data), "--out", str(tmp_path / "run"),
                 *TINY, "--epochs", "1", "--monitor-data", str(monitor)])
    err = capsys.readouterr().err
    assert code == 2 and "--monitor-data" in err and "1 channels" in err
    assert not (tmp_path / "run" / "last.ckpt").exists()

