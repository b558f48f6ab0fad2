"""A full disk in the middle of a checkpoint write: the previous checkpoint stays intact, and the user is told so.

``torch.save`` is replaced by one that writes half of the real bytes into the temp file and then fails
with ``ENOSPC``, as a full disk does partway through a write.
"""

from __future__ import annotations

import errno
import io

import pytest
import torch

from byol_transfer.train.checkpoint import load_checkpoint
from tests.conftest import write_image_folder

from .conftest import assert_clean_error, tiny_pretrain_args

TWO_EPOCHS = ["--epochs", "2"]


@pytest.fixture
def disk_fills_up(monkeypatch):
    real_save = torch.save

    def half_then_full(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def fill() -> None:
        monkeypatch.setattr(torch, "save", half_then_full)

    return fill


def temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_disk_full_during_a_save_keeps_the_previous_checkpoint(run_cli, tmp_path, disk_fills_up):
    data = write_image_folder(tmp_path / "images", 16, 3)
    run = tmp_path / "run"
    assert run_cli(*tiny_pretrain_args(data, run, *TWO_EPOCHS, "--stop-after-steps", "2")).code == 0
    before = (run / "last.ckpt").read_bytes()
    disk_fills_up()
    result = run_cli(*tiny_pretrain_args(data, run, *TWO_EPOCHS, "--resume"))
    assert_clean_error(result, f"cannot save {run / 'last.ckpt'} at step 4", "the disk is full",
                       "the previous checkpoint is intact")
    assert (run / "last.ckpt").read_bytes() == before
    assert load_checkpoint(run)["step"] == 2
    assert temp_files(run) == []


def test_disk_full_during_the_first_save_says_no_checkpoint_was_completed(run_cli, tmp_path, disk_fills_up):
    data = write_image_folder(tmp_path / "images", 16, 3)
    run = tmp_path / "run"
    disk_fills_up()
    result = run_cli(*tiny_pretrain_args(data, run))
    assert_clean_error(result, "the disk is full", "no checkpoint had been completed yet")
    assert not (run / "last.ckpt").exists()
    assert temp_files(run) == []
