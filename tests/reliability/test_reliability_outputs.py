"""Output-path faults in every command that writes: a file where a folder belongs, a read-only location,
a full disk. Each must exit 2 with one stderr line naming the path and the reason, no traceback, and leave
nothing new behind (no empty output folder, no temp file), while the inputs stay as they were.

Tests run as root, which passes every permission bit: read-only locations are simulated through
``os.access`` (what outputs.py asks), and for real with /proc, which refuses new entries even to root. A
full disk is an ``OSError(ENOSPC)`` from ``os.replace``, the step every atomic write ends with.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from byol_transfer.cli import main

COMMANDS = ["pretrain", "export", "label-efficiency", "segment", "predict", "stats", "preview", "prepare"]
FILE_OUTPUTS = {"export": "backbone.safetensors", "stats": "stats.json", "preview": "views.png"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Valid inputs for every command (a class folder, a run, a scene, a segmentation folder and a model)."""
    import rasterio
    import torch
    from rasterio.transform import from_origin

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("outputs_inputs")
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / "photos" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / "photos" / cls / f"{i}.png")
    (root / "seg" / "images").mkdir(parents=True)
    (root / "seg" / "masks").mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "seg" / "images" / f"{i}.png")
        mask = np.zeros((32, 32), np.uint8)
        mask[4:4 + 2 * i, 4:20] = 1
        Image.fromarray(mask).save(root / "seg" / "masks" / f"{i}.png")
    with rasterio.open(root / "scene.tif", "w", driver="GTiff", width=48, height=48, count=3, dtype="uint16",
                       crs="EPSG:32633", transform=from_origin(5e5, 4e6, 10, 10)) as dst:
        dst.write(rng.integers(1, 4000, (3, 48, 48), dtype=np.uint16))
    base = ["-q", "pretrain", "--config", "natural_rgb", "--data", str(root / "photos"), "--out", str(root / "run"),
            "--backbone", "byol_tiny_cnn", "--image-size", "16", "--batch-size", "8", "--epochs", "1",
            "--set", "model.projector_hidden=32", "--set", "model.predictor_hidden=32", "--set", "data.num_workers=0",
            "--set", "optim.name=adamw", "--set", "optim.base_lr=0.01"]
    assert main(base) == 0
    assert main(["-q", "segment", "--data", str(root / "seg"), "--backbone", "random", "--encoder", "resnet18",
                 "--epochs", "1", "--min-epoch-samples", "1", "--batch-size", "4", "--no-progress",
                 "--out", str(root / "segout")]) == 0
    torch.set_num_threads(threads)
    models = sorted((root / "segout" / "models").iterdir())
    return {"photos": root / "photos", "run": root / "run", "scene": root / "scene.tif", "seg": root / "seg",
            "model": models[0], "root": root}


def command_line(name: str, inputs: dict[str, Path], out: Path, pretrain_args) -> list[str]:  # noqa: ANN001
    photos = inputs["photos"]
    return {
        "pretrain": lambda: pretrain_args(photos, out),
        "export": lambda: ["export", str(inputs["run"]), "--out", str(out)],
        "label-efficiency": lambda: ["label-efficiency", "--data", str(photos), "--backbone", "random", "--arch",
                                     "byol_tiny_cnn", "--recipe", "natural_rgb", "--evaluators", "knn",
                                     "--knn-k", "3", "--fractions", "1.0", "--seeds", "1", "--image-size", "16",
                                     "--no-progress", "--out", str(out)],
        "segment": lambda: ["segment", "--data", str(inputs["seg"]), "--backbone", "random", "--encoder", "resnet18",
                            "--epochs", "1", "--min-epoch-samples", "1", "--batch-size", "4", "--no-progress",
                            "--out", str(out)],
        "predict": lambda: ["predict", "--model", str(inputs["model"]), "--data", str(inputs["seg"] / "images"),
                            "--no-progress", "--out", str(out)],
        "stats": lambda: ["stats", "--data", str(photos), "--out", str(out)],
        "preview": lambda: ["preview", "--config", "natural_rgb", "--data", str(photos), "--n", "2", "--out", str(out)],
        "prepare": lambda: ["prepare", "tiles", str(inputs["scene"]), "--size", "16", "--out", str(out)],
    }[name]()


def output_path(name: str, folder: Path) -> Path:
    return folder / FILE_OUTPUTS.get(name, "out")


@pytest.fixture
def untouched_inputs(inputs, drill):
    """Asserts after the test that no input file or folder appeared, vanished or changed."""
    def state():
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in inputs["root"].rglob("*") if p.is_file()}

    before = state()
    yield
    assert state() == before


@pytest.mark.parametrize("command", COMMANDS)
def test_an_existing_file_in_the_way_is_refused_naming_it(command, inputs, tmp_path, run_cli, drill, untouched_inputs):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    # a folder output at a file, or a file output whose folder is a file
    out = blocker if command not in FILE_OUTPUTS else output_path(command, blocker)
    before = drill.snapshot(tmp_path)
    result = run_cli(*command_line(command, inputs, out, drill.pretrain_args))
    drill.clean_error(result, str(blocker), "is a file, not a folder")
    assert drill.snapshot(tmp_path) == before
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("command", ["export", "stats", "preview"])
def test_a_folder_where_a_file_belongs_is_refused(command, inputs, tmp_path, run_cli, drill):
    folder = tmp_path / FILE_OUTPUTS[command]
    folder.mkdir()
    before = drill.snapshot(tmp_path)
    result = run_cli(*command_line(command, inputs, folder, drill.pretrain_args))
    drill.clean_error(result, str(folder), "is a folder")
    assert drill.snapshot(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_location_is_refused_before_any_work(command, inputs, tmp_path, run_cli, drill, monkeypatch,
                                                       untouched_inputs):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path, mode, *args, **kwargs):  # what a non-root user sees in a folder without write permission
        if mode & os.W_OK and Path(path).absolute() == locked:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    out = output_path(command, locked / "new")
    result = run_cli(*command_line(command, inputs, out, drill.pretrain_args))
    drill.clean_error(result, str(out), "permission denied", str(locked))
    assert drill.snapshot(locked) == set()


@pytest.mark.parametrize("command", ["pretrain", "stats", "prepare"])
def test_a_location_that_refuses_new_entries_even_to_root(command, inputs, run_cli, drill):
    out = output_path(command, Path("/proc/byol-transfer-out"))
    result = run_cli(*command_line(command, inputs, out, drill.pretrain_args))
    drill.clean_error(result, str(out), "/proc")
    assert not out.exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_disk_is_one_line_and_leaves_no_empty_output_folder(command, inputs, tmp_path, run_cli, drill,
                                                                   monkeypatch, untouched_inputs):
    def replace(src, dst, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    out = output_path(command, tmp_path / "results")
    monkeypatch.setattr(os, "replace", replace)
    result = run_cli(*command_line(command, inputs, out, drill.pretrain_args))
    monkeypatch.undo()
    drill.clean_error(result, "no space left on the device", str(out))
    assert drill.snapshot(tmp_path) == set()  # no output folder, no temp file


def test_a_file_system_with_no_free_block_is_refused_up_front(inputs, tmp_path, run_cli, drill, monkeypatch):
    real = os.statvfs

    class Full:
        def __init__(self, stats):
            self.f_flag, self.f_blocks, self.f_bavail = stats.f_flag, max(stats.f_blocks, 1), 0

    monkeypatch.setattr(os, "statvfs", lambda path: Full(real(path)))
    out = tmp_path / "stats.json"
    result = run_cli(*command_line("stats", inputs, out, drill.pretrain_args))
    drill.clean_error(result, str(out), "no space left on the device")
    assert drill.snapshot(tmp_path) == set()


def test_a_failure_after_the_folder_was_made_removes_only_what_the_command_created(tmp_path):
    from byol_transfer.errors import UserError
    from byol_transfer.outputs import output_guard

    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("user data")
    with pytest.raises(UserError, match="bad data"):
        with output_guard(existing / "new" / "deeper", "dir"):
            (existing / "new" / "deeper").mkdir(parents=True)
            (existing / "new" / "deeper" / ".results.csv.abc123.tmp").write_text("half")
            raise UserError("bad data")
    assert sorted(p.name for p in existing.iterdir()) == ["keep.txt"]  # the new folders went, the user's file stayed

    with pytest.raises(UserError):
        with output_guard(existing, "dir"):  # an existing folder is never removed, even when it ends up empty
            (existing / "keep.txt").unlink()
            raise UserError("later failure")
    assert existing.is_dir()

    with pytest.raises(UserError):
        with output_guard(tmp_path / "partial", "dir"):  # a folder holding a real result stays for the user
            (tmp_path / "partial").mkdir()
            (tmp_path / "partial" / "results.csv").write_text("a,b\n")
            raise UserError("failed after writing")
    assert (tmp_path / "partial" / "results.csv").is_file()
