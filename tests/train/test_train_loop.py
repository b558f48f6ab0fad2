import csv
import json
import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from byol_transfer.augment.recipes import load_recipe
from byol_transfer.config import to_dict
from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.train.checkpoint import load_checkpoint
from byol_transfer.train.loop import TrainingDiverged, pretrain
from byol_transfer.train.run_config import resolve_config

TINY = {
    "model.backbone": "byol_tiny_cnn", "model.projector_hidden": 32, "model.projector_out": 16,
    "model.predictor_hidden": 32, "data.image_size": 16, "data.batch_size": 8, "data.num_workers": 0,
    "train.epochs": 2, "train.log_every": 1, "train.checkpoint_every": 1000,
    "optim.name": "adamw", "optim.base_lr": 1e-2,
}


def tiny_config(recipe: str = "natural_rgb", sets: list[str] = (), **flags):
    return resolve_config({"recipe": to_dict(load_recipe(recipe))}, "test", {**TINY, **flags}, list(sets))


def read_metrics(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


MULTIBAND = ["--set", "recipe.channels.count=any", "--set", "recipe.channels.rgb=false"]


@pytest.mark.parametrize("channels", [1, 3, 4, 13])
def test_pretrain_writes_run_folder_for_any_channel_count(image_folder, tmp_path, channels):
    recipe = {1: "grayscale", 3: "natural_rgb"}.get(channels, "grayscale")
    sets = [] if channels in (1, 3) else [
        "recipe.channels.count=any", "recipe.scaling.kind=divide", "recipe.scaling.value=10000"]
    cfg = tiny_config(recipe, sets)
    data = ImageFolderDataset(image_folder(16, channels), 16)
    result = pretrain(cfg, data, tmp_path / "run", progress=False)
    assert result.steps == 4  # 2 epochs × 16 images / batch 8
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"config.yaml", "metrics.csv", "last.ckpt"}
    rows = read_metrics(tmp_path / "run")
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(math.isfinite(float(r["loss"])) for r in rows)
    assert float(rows[0]["tau"]) == pytest.approx(0.996)
    state = load_checkpoint(tmp_path / "run")
    assert state["step"] == 4 and state["config"]["model"]["in_chans"] == channels


def test_resume_reproduces_the_uninterrupted_losses(image_folder, tmp_path):
    data = ImageFolderDataset(image_folder(24, 3), 16)
    cfg = tiny_config(**{"train.epochs": 3})  # 3 steps per epoch → pause mid-epoch 2
    pretrain(cfg, data, tmp_path / "full", progress=False)
    pretrain(cfg, data, tmp_path / "paused", progress=False, stop_after_steps=4)
    assert load_checkpoint(tmp_path / "paused")["step"] == 4
    pretrain(cfg, data, tmp_path / "paused", progress=False, resume=True)
    full, resumed = read_metrics(tmp_path / "full"), read_metrics(tmp_path / "paused")
    assert [r["step"] for r in full] == [r["step"] for r in resumed]
    for a, b in zip(full, resumed):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5, abs=1e-6)
        assert float(a["lr"]) == pytest.approx(float(b["lr"]))
        assert float(a["tau"]) == pytest.approx(float(b["tau"]))
    final_full = load_checkpoint(tmp_path / "full")["model"]
    final_resumed = load_checkpoint(tmp_path / "paused")["model"]
    for key in final_full:
        torch.testing.assert_close(final_full[key], final_resumed[key], rtol=1e-4, atol=1e-5)


class FloatImages(Dataset):
    in_chans, dtype = 3, torch.float32

    def __init__(self, n: int, bad: bool) -> None:
        self.images = torch.full((n, 3, 16, 16), float("nan")) if bad else torch.rand(n, 3, 16, 16)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i]}


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    cfg = tiny_config(sets=["recipe.scaling.kind=divide", "recipe.scaling.value=1"], **{"train.epochs": 1})
    pretrain(cfg, FloatImages(16, bad=False), tmp_path / "run", progress=False)
    good = load_checkpoint(tmp_path / "run")
    cfg = tiny_config(sets=["recipe.scaling.kind=divide", "recipe.scaling.value=1"], **{"train.epochs": 2})
    with pytest.raises(TrainingDiverged, match="loss became nan at step 2; last good checkpoint"):
        # a longer schedule than the checkpoint's: an explicit config change on resume
        pretrain(cfg, FloatImages(16, bad=True), tmp_path / "run", progress=False, resume=True,
                 allow_config_change=True)
    kept = load_checkpoint(tmp_path / "run")
    assert kept["step"] == good["step"] == 2
    for key in good["model"]:
        assert torch.equal(good["model"][key], kept["model"][key])


def test_batch_larger_than_dataset_is_a_clear_error(image_folder, tmp_path):
    from byol_transfer.errors import UserError

    cfg = tiny_config(**{"data.batch_size": 64})
    with pytest.raises(UserError, match="batch size 64 is larger than the dataset"):
        pretrain(cfg, ImageFolderDataset(image_folder(8, 3), 16), tmp_path / "run", progress=False)


def test_bf16_and_channels_last_train(image_folder, tmp_path):
    cfg = tiny_config(**{"train.precision": "bf16", "train.channels_last": True, "train.epochs": 1})
    result = pretrain(cfg, ImageFolderDataset(image_folder(16, 3), 16), tmp_path / "run", progress=False)
    assert math.isfinite(result.final_loss)


def test_precision_auto_is_the_default():
    from byol_transfer.config import TrainConfig

    assert TrainConfig().precision == "auto"
    assert tiny_config().train.precision == "auto"


@pytest.mark.parametrize("native, expected", [(False, "fp32"), (True, "bf16")])
def test_precision_auto_is_chosen_at_start_and_logged(image_folder, tmp_path, monkeypatch, caplog, native, expected):
    from byol_transfer.train import precision as precision_module

    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: native)
    monkeypatch.setattr(precision_module, "bf16_matmul_speedup", lambda: 1.5)  # not timed: machines differ
    seen = []
    real_autocast = torch.autocast

    def spy(device_type, dtype=None, enabled=True, **kw):  # noqa: ANN001, ANN202
        seen.append(enabled)
        return real_autocast(device_type, dtype=dtype, enabled=enabled, **kw)

    monkeypatch.setattr(torch, "autocast", spy)
    cfg = tiny_config(**{"train.max_steps": 1})  # the default: auto
    with caplog.at_level("INFO", logger="byol_transfer"):
        pretrain(cfg, ImageFolderDataset(image_folder(8, 3), 16), tmp_path / "run", progress=False)
    assert f"precision: {expected} (auto:" in caplog.text
    assert seen and seen[0] is (expected == "bf16")
    # run.json: which arithmetic this start used, and on which CPU
    from byol_transfer.machine import cpu_model_and_flags

    record = json.loads((tmp_path / "run" / "run.json").read_text())
    (start,) = record["starts"]
    assert start["precision"]["setting"] == "auto" and start["precision"]["chosen"] == expected
    assert start["machine"]["cpu_model"] == cpu_model_and_flags()[0] and start["step"] == 0
    assert f"CPU: {cpu_model_and_flags()[0]}" in caplog.text


def test_run_json_keeps_every_start_of_a_resumed_run(image_folder, tmp_path):
    data = ImageFolderDataset(image_folder(16, 3), 16)
    cfg = tiny_config(**{"train.precision": "fp32"})
    pretrain(cfg, data, tmp_path / "run", progress=False, stop_after_steps=1)
    pretrain(cfg, data, tmp_path / "run", progress=False, resume=True)
    starts = json.loads((tmp_path / "run" / "run.json").read_text())["starts"]
    assert [s["step"] for s in starts] == [0, 1]
    assert all(s["precision"] == {"setting": "fp32", "chosen": "fp32", "reason": "set explicitly"} for s in starts)


# --- multi-crop ------------------------------------------------------------------------------------

LOCAL = ["recipe.local_crops.number=2", "recipe.local_crops.size=8"]


def test_local_crops_train_and_are_recorded_in_config_yaml(image_folder, tmp_path):
    from byol_transfer.config import read_yaml

    data = ImageFolderDataset(image_folder(16, 3), 16)
    pretrain(tiny_config(**{"train.epochs": 1}), data, tmp_path / "plain", progress=False)
    pretrain(tiny_config(sets=LOCAL, **{"train.epochs": 1}), data, tmp_path / "multi", progress=False)
    stored = read_yaml(tmp_path / "multi" / "config.yaml")["recipe"]["local_crops"]
    assert stored == {"number": 2, "size": 8, "scale": [0.05, 0.3], "ops_from": "view2"}
    assert read_yaml(tmp_path / "plain" / "config.yaml")["recipe"]["local_crops"]["number"] == 0
    plain, multi = read_metrics(tmp_path / "plain"), read_metrics(tmp_path / "multi")
    assert all(math.isfinite(float(r["loss"])) for r in multi)
    assert [r["loss"] for r in plain] != [r["loss"] for r in multi]  # the local crops are in the loss


def test_local_crops_off_reproduce_the_default_losses_exactly(image_folder, tmp_path):
    data = ImageFolderDataset(image_folder(16, 3), 16)
    pretrain(tiny_config(**{"train.epochs": 1}), data, tmp_path / "default", progress=False)
    pretrain(tiny_config(sets=["recipe.local_crops.number=0", "recipe.local_crops.size=8"], **{"train.epochs": 1}),
             data, tmp_path / "off", progress=False)
    default, off = read_metrics(tmp_path / "default"), read_metrics(tmp_path / "off")
    assert [r["loss"] for r in default] == [r["loss"] for r in off]  # the CSV's text: every digit


def test_resume_with_local_crops_reproduces_the_uninterrupted_losses(image_folder, tmp_path):
    data = ImageFolderDataset(image_folder(16, 3), 16)
    cfg = tiny_config(sets=LOCAL, **{"train.precision": "fp32"})
    pretrain(cfg, data, tmp_path / "full", progress=False)
    pretrain(cfg, data, tmp_path / "paused", progress=False, stop_after_steps=2)
    pretrain(cfg, data, tmp_path / "paused", progress=False, resume=True)
    full, resumed = read_metrics(tmp_path / "full"), read_metrics(tmp_path / "paused")
    assert [r["step"] for r in full] == [r["step"] for r in resumed]
    for a, b in zip(full, resumed):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5, abs=1e-6)


def test_a_checkpoint_from_before_local_crops_resumes_without_a_config_change():
    from byol_transfer.train.resume import check_resume_config

    new = to_dict(tiny_config())
    old = to_dict(tiny_config())
    del old["recipe"]["local_crops"]  # what checkpoints written before multi-crop hold
    assert check_resume_config(old, new, "old.ckpt", allow_change=False) == {}
    on = to_dict(tiny_config(sets=LOCAL))
    from byol_transfer.errors import UserError

    with pytest.raises(UserError, match="recipe.local_crops.number 0 -> 2"):
        check_resume_config(old, on, "old.ckpt", allow_change=False)


def test_local_crops_larger_than_the_views_are_refused_before_data(tmp_path):
    from byol_transfer.errors import UserError
    from byol_transfer.train.preflight import check_before_data

    cfg = tiny_config(sets=["recipe.local_crops.number=2", "recipe.local_crops.size=32"])
    cfg.data.path = str(tmp_path)
    with pytest.raises(UserError, match=r"local_crops.size 32 is larger than the global views \(16 px"):
        check_before_data(cfg)
