"""``pretrain --resume``: say exactly what differs, use the checkpoint's own config, clean up killed writes.

A paused tiny run (2 of 4 steps, checkpoint at step 2) is copied for each case; the refused cases must
exit 2 with one line and leave the run folder exactly as it was.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from byol_transfer.train.checkpoint import load_checkpoint
from tests.conftest import write_image_folder

from .conftest import assert_clean_error, snapshot, tiny_pretrain_args

TWO_EPOCHS = ["--epochs", "2", "--set", "train.log_every=1"]  # 4 steps (16 images, batch 8), a row per step


@pytest.fixture(scope="module")
def paused(tmp_path_factory) -> dict[str, Path]:
    import contextlib
    import io

    from byol_transfer.cli import main

    root = tmp_path_factory.mktemp("resume_reliability")
    data = write_image_folder(root / "images", 16, 3)
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = main(["-q", *tiny_pretrain_args(data, root / "run", *TWO_EPOCHS, "--stop-after-steps", "2")])
    assert code == 0
    return {"data": data, "run": root / "run"}


@pytest.fixture
def run(paused, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(paused["run"], copy)
    return copy


def losses(run: Path) -> list[str]:
    with (run / "metrics.csv").open() as f:
        return [row["loss"] for row in csv.DictReader(f)]


MISMATCHES = [
    (["--backbone", "resnet18"], ["was trained with backbone 'byol_tiny_cnn', the config says 'resnet18'"]),
    (["--set", "model.projector_hidden=64"], ["was trained with projector width 32, the config says 64"]),
    (["--set", "optim.name=sgd"], ["was trained with optimizer 'adamw', the config says 'sgd'"]),
    (["--batch-size", "4"], ["data.batch_size 8 -> 4", "--allow-config-change"]),
    (["--set", "optim.base_lr=0.02"], ["optim.base_lr 0.01 -> 0.02", "--allow-config-change"]),
    (["--epochs", "3"], ["train.epochs 2 -> 3", "--allow-config-change"]),
    (["--seed", "1"], ["train.seed 0 -> 1", "--allow-config-change"]),
]


@pytest.mark.parametrize("change, fragments", MISMATCHES, ids=[" ".join(m[0]) for m in MISMATCHES])
def test_resume_with_another_model_or_trajectory_says_what_differs(run_cli, paused, run, change, fragments):
    before = snapshot(run)
    result = run_cli(*tiny_pretrain_args(paused["data"], run, *TWO_EPOCHS, "--resume", *change))
    line = assert_clean_error(result, str(run / "last.ckpt"), *fragments)
    assert len(line) < 400  # a sentence, not a state-dict dump
    assert snapshot(run) == before


def test_resume_on_data_with_another_channel_count_is_one_line(run_cli, paused, run, tmp_path, no_decoding):
    four = write_image_folder(tmp_path / "four_bands", 16, 4)
    before = snapshot(run)
    result = run_cli(*tiny_pretrain_args(four, run, *TWO_EPOCHS, "--resume", "--data", four,
                                         "--set", "recipe.channels.count=any", "--set", "recipe.channels.rgb=false",
                                         "--set", "recipe.view1=[{op: random_resized_crop}]",
                                         "--set", "recipe.view2=[{op: random_resized_crop}]",
                                         "--allow-config-change"))
    assert_clean_error(result, str(four), "the images have 4 channel(s) but the model takes 3")
    assert snapshot(run) == before


def test_allowed_batch_change_logs_the_new_learning_rate_scale(run_cli, paused, run, caplog):
    with caplog.at_level("WARNING"):
        result = run_cli(*tiny_pretrain_args(paused["data"], run, *TWO_EPOCHS, "--resume", "--batch-size", "4",
                                             "--allow-config-change"))
    assert result.code == 0, result.err
    assert "data.batch_size 8 -> 4" in caplog.text
    assert "base_lr 0.01 x batch 4 / 256 = 0.00015625" in caplog.text
    state = load_checkpoint(run)
    assert state["config"]["data"]["batch_size"] == 4
    assert state["optimizer"]["param_groups"][0]["initial_lr"] == pytest.approx(0.01 * 4 / 256)


@pytest.mark.parametrize("damage", ["missing", "truncated", "not yaml"])
def test_resume_uses_the_checkpoint_config_when_config_yaml_is_missing_or_cut(run_cli, paused, run, damage):
    config = run / "config.yaml"
    if damage == "missing":
        config.unlink()
    elif damage == "truncated":
        config.write_text(config.read_text()[:120])
    else:
        config.write_text("recipe: [unclosed\n")
    # no --config, no --data: everything comes from last.ckpt
    result = run_cli("pretrain", "--out", run, "--resume")
    assert result.code == 0, result.err
    assert "--config is required" not in result.err
    assert load_checkpoint(run)["step"] == 4
    assert len(losses(run)) == 4


def test_resume_without_checkpoint_or_config_names_the_folder(run_cli, tmp_path):
    empty = tmp_path / "never_ran"
    empty.mkdir()
    before = snapshot(tmp_path)
    assert_clean_error(run_cli("pretrain", "--out", empty, "--resume"), str(empty), "no checkpoint and no config.yaml")
    assert snapshot(tmp_path) == before


def test_a_first_save_that_was_killed_is_reported_on_resume(run_cli, paused, tmp_path, caplog):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".last.ckpt.k1ll3d.tmp").write_bytes(b"PK\x03\x04" + bytes(5000))  # a killed torch.save
    result = run_cli("pretrain", "--out", run, "--resume")
    assert_clean_error(result, "no checkpoint was completed; the first save was interrupted")
    # with a config to start from, the run starts again and the partial file goes
    with caplog.at_level("WARNING"):
        result = run_cli(*tiny_pretrain_args(paused["data"], run, "--resume"))
    assert result.code == 0, result.err
    assert "no checkpoint was completed" in caplog.text and "first save was interrupted" in caplog.text
    assert not list(run.glob(".*.tmp"))
    assert load_checkpoint(run)["step"] == 2


def test_stale_temp_files_of_killed_writes_are_removed_at_the_next_start(paused, run, caplog):
    from byol_transfer.data.build import build_dataset
    from byol_transfer.train.loop import pretrain
    from byol_transfer.train.run_config import resolve_config

    stale = [run / ".last.ckpt.a1b2c3.tmp", run / ".metrics.csv.zz9.tmp"]
    for i, path in enumerate(stale):
        path.write_bytes(bytes(1000 * (i + 1)))
    keep = run / "notes.tmp"  # not an atomic-write temp name: left alone
    keep.write_text("mine")
    cfg = resolve_config(load_checkpoint(run)["config"], "checkpoint", {}, [])
    with caplog.at_level("INFO", logger="byol_transfer.train.loop"):
        pretrain(cfg, build_dataset(paused["data"], 16), run, resume=True, progress=False)
    assert not any(p.exists() for p in stale)
    assert keep.exists()
    assert "removed 2 stale temp file(s) (3000 bytes)" in caplog.text


def test_resumed_losses_equal_the_uninterrupted_run(run_cli, paused, run, tmp_path):
    full = tmp_path / "full"
    assert run_cli(*tiny_pretrain_args(paused["data"], full, *TWO_EPOCHS)).code == 0
    assert run_cli(*tiny_pretrain_args(paused["data"], run, *TWO_EPOCHS, "--resume")).code == 0
    assert losses(run) == losses(full)


def test_a_checkpoint_from_before_the_range_checks_still_exports_and_resumes(run_cli, paused, run, tmp_path):
    """Older versions stored ``train.max_steps: 0`` for "no cap"; such a checkpoint reads as null, not as an error."""
    import torch

    state = load_checkpoint(run)
    state["config"]["train"]["max_steps"] = 0
    torch.save(state, run / "last.ckpt")
    assert load_checkpoint(run)["config"]["train"]["max_steps"] is None
    assert run_cli("export", run, "--out", tmp_path / "old.safetensors").code == 0
    assert run_cli("pretrain", "--out", run, "--resume").code == 0
    assert load_checkpoint(run)["step"] == 4
