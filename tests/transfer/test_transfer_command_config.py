"""label-efficiency and segment from settings files: the resolved config is written, re-running from it gives
the same results, evaluator settings are strict, and semisup's fine-tuning follows finetune's flags."""

from __future__ import annotations

import argparse

import yaml

from byol_transfer.cli import main
from byol_transfer.cli.label_efficiency import FLAGS
from byol_transfer.config.resolve import merged_settings
from byol_transfer.transfer.commands import label_efficiency


def _run(capsys, *argv) -> tuple[int, str]:  # noqa: ANN001
    capsys.readouterr()
    code = main(["-q", *map(str, argv)])
    return code, capsys.readouterr().err


def test_label_efficiency_writes_its_settings_and_reruns_from_them(labelled_folder, tmp_path, capsys):
    data = labelled_folder(6, channels=1, size=16)
    first = tmp_path / "first"
    code, err = _run(capsys, "label-efficiency", "--data", data, "--backbone", "random", "--arch", "byol_tiny_cnn",
                     "--recipe", "grayscale", "--evaluators", "knn,linear", "--knn-k", "3", "--fractions", "1.0",
                     "--seeds", "1", "--set", "settings.linear.max_iter=50", "--device", "cpu", "--no-progress",
                     "--out", first)
    assert code == 0, err
    written = yaml.safe_load((first / "config.yaml").read_text())
    assert written["evaluators"] == ["knn", "linear"] and written["settings"]["knn"]["ks"] == [3]
    assert written["settings"]["linear"]["max_iter"] == 50 and written["inits"]["backbones"] == ["random"]
    assert written["settings"]["finetune"]["epochs"] == 30  # every evaluator's defaults, written once
    second = tmp_path / "second"
    code, err = _run(capsys, "label-efficiency", "--config", first / "config.yaml", "--no-progress", "--out", second)
    assert code == 0, err
    assert (second / "results.csv").read_text() == (first / "results.csv").read_text()


def test_an_unknown_evaluator_setting_names_its_dotted_key(labelled_folder, tmp_path, capsys):
    code, err = _run(capsys, "label-efficiency", "--data", labelled_folder(4), "--backbone", "random",
                     "--set", "settings.knn.kz=3", "--out", tmp_path / "out")
    assert code == 2 and "unknown key 'settings.knn.kz'" in err
    assert not (tmp_path / "out").exists()


def test_semisup_fine_tuning_follows_the_finetune_flags_unless_set_itself():
    args = argparse.Namespace(epochs=7, sets=["settings.semisup.finetune.lr=0.5"])
    flags = [f for f in FLAGS if f.name == "--epochs"]
    data, _ = merged_settings(args, flags)
    label_efficiency.follow_finetune(data)
    assert data["settings"]["semisup"]["finetune"] == {"epochs": 7, "lr": 0.5}


def test_segment_writes_its_settings(seg_folder, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = _run(capsys, "segment", "--data", seg_folder(8, channels=4, size=32), "--backbone", "random",
                     "--encoder", "resnet18", "--recipe", "satellite_multispectral", "--epochs", "1",
                     "--min-epoch-samples", "4", "--batch-size", "4", "--set", "finetune.dice_weight=0.5",
                     "--device", "cpu", "--no-progress", "--out", out)
    assert code == 0, err
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["finetune"]["epochs"] == 1 and written["finetune"]["dice_weight"] == 0.5
    assert written["model"] == {"arch": "unet", "encoder": "resnet18"} and written["semisup"]["mu"] == 1
