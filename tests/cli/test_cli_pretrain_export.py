import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import load_file

from byol_transfer.cli import main

TINY = ["--backbone", "byol_tiny_cnn", "--image-size", "16", "--batch-size", "8", "--epochs", "1",
        "--set", "model.projector_hidden=32", "--set", "model.predictor_hidden=32",
        "--set", "data.num_workers=0", "--set", "optim.name=adamw", "--set", "optim.base_lr=0.01"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["-q", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_pretrain_then_export_then_strict_timm_load(capsys, image_folder, tmp_path):
    data = image_folder(16, 3)
    code, out, err = run_cli(capsys, "pretrain", "--config", "natural_rgb", "--data", data,
                             "--out", tmp_path / "run", *TINY)
    assert code == 0, err
    assert {"config.yaml", "metrics.csv", "last.ckpt"} <= {p.name for p in (tmp_path / "run").iterdir()}
    code, out, err = run_cli(capsys, "export", tmp_path / "run", "--out", tmp_path / "b.safetensors")
    assert code == 0, err
    model = timm.create_model("byol_tiny_cnn", num_classes=0, in_chans=3)
    weights = load_file(str(tmp_path / "b.safetensors"))
    model.load_state_dict(weights, strict=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in weights.items())


def test_resume_continues_from_the_run_folder(capsys, image_folder, tmp_path):
    data = image_folder(16, 3)
    args = ["pretrain", "--config", "natural_rgb", "--data", data, "--out", tmp_path / "run", *TINY]
    assert run_cli(capsys, *args, "--epochs", "2", "--stop-after-steps", "1")[0] == 0
    code, out, err = run_cli(capsys, "pretrain", "--out", tmp_path / "run", "--resume")
    assert code == 0, err
    assert "pretrained 4 steps" in out


def test_recipes_lists_names_and_descriptions(capsys):
    code, out, _ = run_cli(capsys, "recipes")
    assert code == 0
    assert "natural_rgb" in out and "BYOL paper" in out


def _assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    "make_args, fragments",
    [
        (lambda d, t: ["--data", t / "missing"], ["data folder not found", "missing"]),
        (lambda d, t: ["--data", t], ["no images", "found under", "empty"]),
        (lambda d, t: ["--data", d, "--backbone", "resnet_nonexistent"], ["unknown backbone 'resnet_nonexistent'"]),
        (lambda d, t: ["--data", d, "--set", "optim.lrr=1"], ["unknown key 'optim.lrr'"]),
        (lambda d, t: ["--data", d, "--set", "train.epochs=many"], ["'train.epochs' must be an integer"]),
        (lambda d, t: ["--data", d, "--set", "noequals"], ["expected key=value"]),
    ],
)
def test_user_mistakes_exit_2_with_one_line(capsys, image_folder, tmp_path, make_args, fragments):
    data = image_folder(16, 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    args = make_args(data, empty if "no images" in fragments[0] else tmp_path)
    code, _, err = run_cli(capsys, "pretrain", "--config", "natural_rgb", "--out", tmp_path / "run", *TINY, *args)
    _assert_one_line_error(code, err, *fragments)


def test_unknown_recipe_and_unreadable_image(capsys, image_folder, tmp_path):
    data = image_folder(16, 3)
    code, _, err = run_cli(capsys, "pretrain", "--config", "no_such_recipe", "--data", data, "--out", tmp_path / "r")
    _assert_one_line_error(code, err, "unknown recipe 'no_such_recipe'", "natural_rgb")
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, _, err = run_cli(capsys, "pretrain", "--config", "natural_rgb", "--data", data, "--out", tmp_path / "r", *TINY)
    _assert_one_line_error(code, err, "broken.png", "not a readable image")
    assert not (tmp_path / "r" / "last.ckpt").exists()


def test_wrong_channel_count_for_the_recipe(capsys, image_folder, tmp_path):
    data = image_folder(16, 13)
    code, _, err = run_cli(capsys, "pretrain", "--config", "natural_rgb", "--data", data, "--out", tmp_path / "r", *TINY)
    _assert_one_line_error(code, err, "natural_rgb", "accepts 3 channel(s)", "the data have 13")


def test_console_script_exit_code(tmp_path):
    exe = Path(sys.executable).with_name("byol-transfer")
    runner = [str(exe)] if exe.exists() else [sys.executable, "-m", "byol_transfer"]
    proc = subprocess.run([*runner, "export", str(tmp_path / "nothing"), "--out", str(tmp_path / "b.safetensors")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("byol-transfer export: error: checkpoint not found")
    assert "Traceback" not in proc.stderr
