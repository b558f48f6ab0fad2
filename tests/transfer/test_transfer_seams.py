"""The seams of the transfer package: one fine-tuning loop for every task, and the evaluator registry."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from byol_transfer.errors import UserError
from byol_transfer.transfer.evaluators import CLASSIFICATION, Outcome, register, resolve
from byol_transfer.transfer.finetune import Schedule, batches, finetune


class TinyNet(nn.Module):
    """A "backbone" (conv + BN, with running statistics to watch) and a new 1×1 "head"."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class ScriptedHooks:
    """Random batches, a pixel-wise CE loss, and validation keys read from a script (lower is better)."""

    def __init__(self, keys: list[float]) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(8, 1, 6, 6, generator=g)
        self.y = torch.randint(0, 2, (8, 6, 6), generator=g)
        self.keys, self.states = list(keys), []

    def train_batch(self, idx):
        return self.x[idx], self.y[idx]

    def loss(self, output, target):
        return nn.functional.cross_entropy(output, target)

    def validate(self, model):
        self.states.append({k: v.clone() for k, v in model.state_dict().items()})
        key = self.keys[len(self.states) - 1]
        return (key,), {"val_key": key}


def _schedule(**overrides) -> Schedule:
    values = dict(epochs=4, batch_size=3, lr=1e-2, backbone_lr_ratio=0.1, weight_decay=1e-4, patience=0,
                  min_epoch_samples=0)
    return Schedule(**{**values, **overrides})


def test_the_best_epochs_weights_are_kept():
    torch.manual_seed(0)
    model, hooks = TinyNet(), ScriptedHooks([3.0, 1.0, 2.0, 5.0])
    result = finetune(model, model.encoder, hooks, 8, True, _schedule(), seed=0)
    assert (result.best_epoch, result.epochs_run) == (2, 4) and result.best == {"val_key": 1.0}
    kept = model.state_dict()
    assert all(torch.equal(kept[k], v) for k, v in hooks.states[1].items())  # epoch 2, not the last
    assert not all(torch.equal(kept[k], v) for k, v in hooks.states[3].items())
    assert [h["val_key"] for h in result.history] == [3.0, 1.0, 2.0, 5.0] and not model.training


def test_patience_stops_after_that_many_epochs_without_a_better_key():
    model, hooks = TinyNet(), ScriptedHooks([1.0, 2.0, 3.0, 4.0])
    result = finetune(model, model.encoder, hooks, 8, True, _schedule(patience=2), seed=0)
    assert (result.best_epoch, result.epochs_run) == (1, 3)


def test_a_frozen_backbone_keeps_weights_and_bn_statistics_while_the_head_trains():
    torch.manual_seed(0)
    model, hooks = TinyNet(), ScriptedHooks([1.0] * 4)
    encoder = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    finetune(model, model.encoder, hooks, 8, True, _schedule(freeze_backbone=True), seed=0)
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in encoder.items())  # BN buffers too
    assert not all(torch.equal(model.head.state_dict()[k], v) for k, v in head.items())


def test_without_validation_the_last_epoch_is_kept():
    model = TinyNet()
    result = finetune(model, model.encoder, ScriptedHooks([]), 8, False, _schedule(epochs=2), seed=0)
    assert (result.best_epoch, result.epochs_run, result.validated) == (2, 2, False)


@pytest.mark.parametrize("n, batch_size, min_samples", [(5, 2, 0), (9, 4, 0), (7, 3, 20), (1, 4, 0)])
def test_batches_never_hold_a_lone_sample_and_keep_every_sample(n, batch_size, min_samples):
    out = batches(n, batch_size, min_samples, torch.Generator().manual_seed(0))
    assert all(len(b) > 1 for b in out) or n == 1
    repeats = max(1, -(-min_samples // n))
    assert sorted(torch.cat(out).tolist()) == sorted(list(range(n)) * repeats)


def test_unknown_evaluator_is_a_user_error_naming_it():
    with pytest.raises(UserError, match="unknown evaluator 'knnn'; choose one of: finetune, knn, linear, semisup"):
        resolve(CLASSIFICATION, ["knn", "knnn"])


def test_evaluator_settings_are_strict_with_dotted_keys():
    (_, settings), = resolve(CLASSIFICATION, {"knn": {"ks": [3, 5]}})
    assert settings.ks == [3, 5] and settings.temperature == 0.07
    with pytest.raises(UserError, match="'evaluators.knn.kz'"):
        resolve(CLASSIFICATION, {"knn": {"kz": [3]}})


@dataclass
class MajoritySettings:
    name: str = "majority"
    smoothing: float = 0.0  # added to every class count


@pytest.fixture
def majority_evaluator():
    """A new evaluator from outside the package: one module's worth of code and one registry entry."""

    @register(CLASSIFICATION, "test-majority", MajoritySettings)
    def evaluate_majority(cell, settings: MajoritySettings) -> dict[str, Outcome]:
        counts = np.bincount(cell.labels[cell.subset_idx], minlength=cell.num_classes) + settings.smoothing
        scores = np.tile(counts / counts.sum(), (len(cell.test_features), 1))
        return {settings.name: Outcome(cell.task.score(scores.argmax(1), scores),
                                       {"majority_class": float(counts.argmax())})}

    yield evaluate_majority
    CLASSIFICATION._items.pop("test-majority")


def test_a_new_evaluator_runs_through_the_sweep_with_its_own_settings(majority_evaluator, labelled_folder, tmp_path):
    from byol_transfer.data.datasets.image_folder import ImageFolderDataset
    from byol_transfer.features.labelled import LabelledData
    from byol_transfer.transfer.inits import build_inits
    from byol_transfer.transfer.tasks.classification import SweepSettings, run_label_efficiency

    data = LabelledData.from_dataset(ImageFolderDataset(labelled_folder([9, 3]), 16, labeled=True))
    inits = build_inits(["random"], 1, arch="byol_tiny_cnn", recipe="grayscale")
    settings = SweepSettings(fractions=(1.0,), seeds=(0,), progress=False,
                             evaluators={"knn": None, "test-majority": {"name": "most-frequent", "smoothing": 1.0}})
    result = run_label_efficiency(inits, data, tmp_path / "out", settings=settings)
    evaluators = {r.evaluator for r in result.rows}
    assert evaluators == {"knn@20", "most-frequent"}
    with (tmp_path / "out" / "selected.csv").open() as f:
        selected = [r for r in csv.DictReader(f) if r["evaluator"] == "most-frequent"]
    assert [(r["name"], float(r["value"])) for r in selected] == [("majority_class", 0.0)]
    accuracy = next(r.value for r in result.rows if r.evaluator == "most-frequent" and r.metric == "accuracy")
    assert accuracy == pytest.approx(2 / 3)  # the stratified 20 % hold-out: 2 of class 0, 1 of class 1


def test_linear_probe_sweep_leaves_the_backbone_bit_identical(labelled_folder, tmp_path):
    from byol_transfer.data.datasets.image_folder import ImageFolderDataset
    from byol_transfer.features.cache import state_fingerprint
    from byol_transfer.features.labelled import LabelledData
    from byol_transfer.transfer.inits import build_inits
    from byol_transfer.transfer.tasks.classification import SweepSettings, run_label_efficiency

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


@pytest.mark.parametrize("registry_name", ["CLASSIFICATION", "SEGMENTATION"])
def test_every_evaluators_settings_round_trip_through_a_plain_mapping(registry_name):
    """What a config file can hold (lists, numbers, nested mappings) builds every evaluator's settings."""
    import dataclasses

    from byol_transfer.config import to_dict
    from byol_transfer.transfer import evaluators

    registry = getattr(evaluators, registry_name)
    for name in registry:
        evaluator = registry.get(name)
        default = evaluator.settings()
        plain = to_dict(default)
        assert evaluator.settings_from(plain, "test") == default, name
        assert all(not isinstance(v, tuple) for v in dataclasses.asdict(default).values()), name
