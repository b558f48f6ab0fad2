"""The baselines a pretrained init must beat: random (timm), kaiming (torchvision's init), channel-stats."""

from __future__ import annotations

import csv

import torch

from byol_transfer.cli import main
from byol_transfer.transfer.inits import BASELINE_SOURCES, build_inits, parse_backbone_specs


def _rows(path):  # noqa: ANN001, ANN202
    with path.open() as f:
        return list(csv.DictReader(f))


def test_bare_baseline_names_name_themselves():
    assert parse_backbone_specs(["random", "kaiming", "channel-stats"]) == [
        ("random", "random"), ("kaiming", "kaiming"), ("channel-stats", "channel-stats")]
    assert set(BASELINE_SOURCES) == {"random", "kaiming", "channel-stats"}


def test_kaiming_differs_from_timm_random_where_timm_zero_initialises_residual_branches():
    random, kaiming = build_inits(["random", "kaiming"], 3, "resnet18", "natural_rgb")
    r, k = random.backbone.state_dict(), kaiming.backbone.state_dict()
    assert torch.all(r["layer1.0.bn2.weight"] == 0) and torch.all(k["layer1.0.bn2.weight"] == 1)
    again = build_inits(["kaiming"], 3, "resnet18", "natural_rgb")[0].backbone.state_dict()
    assert all(torch.equal(k[name], again[name]) for name in k)  # one fixed init: features stay cacheable
    assert kaiming.trainable and kaiming.weights_hash != random.weights_hash


def test_channel_stats_is_a_parameter_free_init_with_seven_features_per_band():
    (stats,) = build_inits(["channel-stats"], 4, None, "satellite_multispectral")
    assert stats.num_features == 28 and not stats.trainable
    assert not any(p.requires_grad for p in stats.backbone.parameters())


def test_a_sweep_with_every_baseline(labelled_folder, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["-q", "label-efficiency", "--data", str(labelled_folder(8, channels=1, size=16)),
                 "--backbone", "random", "kaiming", "channel-stats", "--arch", "byol_tiny_cnn", "--recipe",
                 "grayscale", "--evaluators", "knn,linear,finetune", "--knn-k", "3", "--epochs", "1",
                 "--fractions", "1.0", "--seeds", "1", "--device", "cpu", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    rows = [r for r in _rows(out / "results.csv") if r["metric"] == "accuracy"]
    evaluated = {(r["init"], r["evaluator"]) for r in rows}
    assert {("channel-stats", "knn@3"), ("channel-stats", "linear")} <= evaluated
    assert ("channel-stats", "finetune") not in evaluated  # no network to fine-tune: no row, not a fake one
    assert {("random", "finetune"), ("kaiming", "finetune")} <= evaluated


def test_segmentation_refuses_channel_stats_in_one_line(seg_folder, tmp_path, capsys):
    code = main(["-q", "segment", "--data", str(seg_folder(6)), "--backbone", "channel-stats", "--encoder",
                 "resnet18", "--recipe", "satellite_multispectral", "--out", str(tmp_path / "out")])
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("byol-transfer: ")]
    assert code == 2 and len(err) == 1 and "channel statistics are a baseline for classification" in err[0]


def test_segmentation_trains_from_a_kaiming_init(seg_folder, tmp_path, capsys):
    from byol_transfer.transfer.inits import segmentation_inits

    images = torch.zeros(2, 4, 32, 32, dtype=torch.uint16)
    (kaiming,) = segmentation_inits([("kaiming", "kaiming")], 4, "tu-resnet18", "satellite_multispectral", None,
                                    images)
    assert torch.all(kaiming.backbone.state_dict()["layer1.0.bn2.weight"] == 1)
    out = tmp_path / "out"
    code = main(["-q", "segment", "--data", str(seg_folder(8)), "--backbone", "kaiming", "--encoder", "resnet18",
                 "--recipe", "satellite_multispectral", "--epochs", "1", "--min-epoch-samples", "4",
                 "--batch-size", "4", "--device", "cpu", "--no-progress", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert {r["init"] for r in _rows(out / "results.csv")} == {"kaiming"}
