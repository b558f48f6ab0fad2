"""Bad numbers, bad configs and bad recipes: each refused in one line naming the key, before any data are read.

Every case runs the real CLI in-process and checks what a user sees: exit 2, one stderr line naming the
culprit, no traceback, and nothing new on disk. Data decoding is replaced by a function that fails the
test, so a case also proves the mistake was found *before* the folder was scanned and decoded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .conftest import assert_clean_error, snapshot, tiny_pretrain_args


@pytest.fixture
def folder(image_folder):
    return image_folder(16, 3)


PRETRAIN_CASES = [
    # (extra arguments, fragments the one error line must contain)
    (["--max-steps", "0"], ["--max-steps", "'train.max_steps' must be >= 1, got 0"]),
    (["--max-steps", "-5"], ["'train.max_steps' must be >= 1, got -5"]),
    (["--epochs", "0"], ["--epochs", "'train.epochs' must be >= 1, got 0"]),
    (["--epochs", "three"], ["--epochs", "must be an integer, got 'three'"]),
    (["--batch-size", "0"], ["'data.batch_size' must be >= 1, got 0"]),
    (["--image-size", "0"], ["'data.image_size' must be >= 8 (px per side), got 0"]),
    (["--image-size", "100000"], ["'data.image_size' must be <= 4096", "100000"]),
    (["--stop-after-steps", "0"], ["--stop-after-steps", "must be >= 1, got 0"]),
    (["--stop-after-steps", "-2"], ["--stop-after-steps", "got -2"]),
    (["--seed", "-1"], ["'train.seed' must be >= 0, got -1"]),
    (["--device", "gpu"], ["--device", "got 'gpu'"]),
    (["--device", "cuda:x"], ["--device", "got 'cuda:x'"]),
    (["--set", "train.checkpoint_every=0"], ["'train.checkpoint_every' must be >= 1, got 0"]),
    (["--set", "train.max_steps=0"], ["'train.max_steps' must be >= 1, got 0"]),
    (["--set", "train.log_every=0"], ["'train.log_every' must be >= 1, got 0"]),
    (["--set", "train.device=tpu"], ["'train.device'", "got 'tpu'"]),
    (["--set", "optim.base_lr=-0.1"], ["'optim.base_lr' must be > 0, got -0.1"]),
    (["--set", "optim.base_lr=abc"], ["'optim.base_lr' must be a number", "abc"]),
    (["--set", "optim.weight_decay=-1"], ["'optim.weight_decay' must be >= 0"]),
    (["--set", "optim.warmup_fraction=2"], ["'optim.warmup_fraction' must be <= 1, got 2.0"]),
    (["--set", "optim.betas=[0.9, 1.5]"], ["'optim.betas' item 1 must be < 1, got 1.5"]),
    (["--set", "ema.base_tau=1.5"], ["'ema.base_tau' must be <= 1, got 1.5"]),
    (["--set", "model.projector_out=0"], ["'model.projector_out' must be >= 1, got 0"]),
    (["--set", "data.num_workers=-1"], ["'data.num_workers' must be >= 0, got -1"]),
    (["--set", "monitor.k=0"], ["'monitor.k' must be >= 1, got 0"]),
    (["--set", "train.nope=1"], ["unknown key 'train.nope'"]),
    (["--set", "recipe.channels.count=three"], ["'recipe.channels.count'", "'three'"]),
    (["--set", "recipe.view1.0.p=1.5"], ["natural_rgb.yaml", "view1[0]", "'random_resized_crop'",
                                         "'p' (a probability) must be <= 1, got 1.5"]),
    (["--set", "recipe.view2=[]"], ["'recipe.view2' must not be empty"]),
    (["--backbone", "resnet_nope"], ["model.backbone", "unknown backbone 'resnet_nope'"]),
    (["--config", "no_such_recipe"], ["unknown recipe 'no_such_recipe'"]),
]


@pytest.mark.parametrize("extra, fragments", PRETRAIN_CASES, ids=[" ".join(c[0]) for c in PRETRAIN_CASES])
def test_pretrain_refuses_bad_values_before_reading_data(run_cli, folder, tmp_path, no_decoding, extra, fragments):
    before = snapshot(tmp_path)
    result = run_cli(*tiny_pretrain_args(folder, tmp_path / "run", *extra))
    assert_clean_error(result, *fragments)
    assert snapshot(tmp_path) == before


def write_recipe(tmp_path: Path, **changes) -> Path:
    """natural_rgb-like recipe file with ``changes`` (view ops replaced where given)."""
    recipe = {
        "name": "custom", "channels": {"count": 3, "rgb": True},
        "view1": [{"op": "random_resized_crop"}, {"op": "horizontal_flip", "p": 0.5}],
        "view2": [{"op": "random_resized_crop"}, {"op": "gaussian_blur", "p": 0.1, "sigma": [0.1, 2.0]}],
    }
    recipe.update(changes)
    path = tmp_path / "recipes" / "custom.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(recipe))
    return path


RECIPE_CASES = [
    ({"view1": [{"op": "horizontal_flip", "p": 1.5}]}, ["view1[0]", "'horizontal_flip'", "'p'", "<= 1, got 1.5"]),
    ({"view2": [{"op": "solarize", "p": -0.1}]}, ["view2[0]", "'solarize'", ">= 0, got -0.1"]),
    ({"view1": []}, ["'view1' must not be empty"]),
    ({"channels": {"count": "three"}}, ["'channels.count'", "'three'"]),
    ({"channels": {"count": 0}}, ["'channels.count' must be >= 1, got 0"]),
    ({"view1": [{"op": "horizontal_flip", "prob": 0.5}]}, ["'horizontal_flip' has no parameter 'prob'"]),
    ({"view1": [{"op": "gaussian_blur", "sigma": [2.0, 1.0]}]}, ["view1[0]", "'gaussian_blur'", "sigma"]),
    ({"view1": [{"op": "rotation", "degrees": "ten"}]}, ["'rotation'", "'degrees' must be a number"]),
    ({"view1": [{"op": "no_such_op"}]}, ["unknown op 'no_such_op'"]),
    ({"view1": [{"p": 0.5}]}, ["view1[0]", "needs an 'op' key"]),
    ({"channels": {"count": 4}}, ["accepts 4 channel(s), but the data have 3"]),  # from the first image's header
]


@pytest.mark.parametrize("changes, fragments", RECIPE_CASES, ids=[str(c[0])[:60] for c in RECIPE_CASES])
def test_recipe_file_mistakes_name_the_file_op_and_key(run_cli, folder, tmp_path, no_decoding, changes, fragments):
    recipe = write_recipe(tmp_path, **changes)
    before = snapshot(tmp_path)
    result = run_cli(*tiny_pretrain_args(folder, tmp_path / "run", "--config", recipe))
    assert_clean_error(result, str(recipe), *fragments)
    assert snapshot(tmp_path) == before


def transfer_args(command: str, data: Path, out: Path) -> list[str]:
    if command == "stats":
        return ["stats", "--data", str(data), "--out", str(out / "stats.json")]
    if command == "preview":
        return ["preview", "--config", "natural_rgb", "--data", str(data), "--out", str(out / "views.png")]
    if command == "prepare":
        return ["prepare", "tiles", str(data / "scene.tif"), "--size", "16", "--out", str(out)]
    if command == "predict":
        return ["predict", "--model", str(data), "--data", str(data), "--out", str(out)]
    common = ["--data", str(data), "--out", str(out), "--backbone", "random", "--no-progress"]
    if command == "label-efficiency":
        return ["label-efficiency", *common, "--arch", "byol_tiny_cnn", "--recipe", "natural_rgb"]
    return ["segment", *common, "--encoder", "resnet18", "--recipe", "natural_rgb"]


TRANSFER_CASES = [
    ("label-efficiency", ["--knn-k", "0"], ["--knn-k", "must be >= 1, got 0"]),
    ("label-efficiency", ["--seeds", "0"], ["--seeds", "must be >= 1, got 0"]),
    ("label-efficiency", ["--fractions", "0.1", "0"], ["--fractions", "must be > 0, got 0.0"]),
    ("label-efficiency", ["--fractions", "1.5"], ["--fractions", "must be <= 1, got 1.5"]),
    ("label-efficiency", ["--batch-size", "0"], ["--batch-size", "must be >= 1, got 0"]),
    ("label-efficiency", ["--lr", "-1"], ["--lr", "must be > 0, got -1.0"]),
    ("label-efficiency", ["--lr", "nan"], ["--lr", "must be a finite number"]),
    ("label-efficiency", ["--val-fraction", "1"], ["--val-fraction", "must be < 1, got 1.0"]),
    ("label-efficiency", ["--image-size", "0"], ["--image-size", "must be >= 8 (px per side), got 0"]),
    ("label-efficiency", ["--device", "gpu"], ["--device", "got 'gpu'"]),
    ("label-efficiency", ["--arch", "resnet_nope"], ["--arch", "unknown backbone 'resnet_nope'"]),
    ("label-efficiency", ["--backbone", "byol=missing.safetensors"], ["missing.safetensors", "not found"]),
    ("label-efficiency", ["--recipe", "no_such_recipe"], ["unknown recipe 'no_such_recipe'"]),
    ("segment", ["--batch-size", "0"], ["--batch-size", "must be >= 1, got 0"]),
    ("segment", ["--epochs", "0"], ["--epochs", "must be >= 1, got 0"]),
    ("segment", ["--num-classes", "1"], ["--num-classes", "must be >= 2, got 1"]),
    ("segment", ["--image-size", "99999"], ["--image-size", "must be <= 4096"]),
    ("segment", ["--min-epoch-samples", "-1"], ["--min-epoch-samples", "must be >= 0, got -1"]),
    ("segment", ["--device", "tpu"], ["--device", "got 'tpu'"]),
    ("segment", ["--encoder", "resnet_nope"], ["--encoder", "unknown backbone 'resnet_nope'"]),
    ("predict", ["--overlap", "1"], ["--overlap", "must be < 1, got 1.0"]),
    ("predict", ["--batch-size", "0"], ["--batch-size", "must be >= 1, got 0"]),
    ("predict", ["--device", "cuda:x"], ["--device", "got 'cuda:x'"]),
    ("stats", ["--max-images", "0"], ["--max-images", "must be >= 1, got 0"]),
    ("stats", ["--min-valid", "1.5"], ["--min-valid", "must be <= 1, got 1.5"]),
    ("preview", ["--image-size", "100000"], ["--image-size", "must be <= 4096"]),
    ("preview", ["--n", "0"], ["--n", "must be >= 1, got 0"]),
    ("prepare", ["--size", "0"], ["--size", "must be >= 8 (px per side), got 0"]),
    ("prepare", ["--stride", "0"], ["--stride", "must be >= 1, got 0"]),
]


@pytest.mark.parametrize("command, extra, fragments", TRANSFER_CASES,
                         ids=[f"{c[0]} {' '.join(c[1])}" for c in TRANSFER_CASES])
def test_transfer_commands_refuse_bad_numbers_and_names_before_reading_data(
        run_cli, folder, tmp_path, no_decoding, command, extra, fragments):
    before = snapshot(tmp_path)
    result = run_cli(*transfer_args(command, folder, tmp_path / "out"), *extra)
    assert_clean_error(result, *fragments)
    assert snapshot(tmp_path) == before


def test_every_built_in_recipe_passes_the_load_time_op_checks():
    from byol_transfer.augment.recipes import list_recipes

    assert len(list_recipes()) >= 5  # each was loaded, i.e. checked op by op
