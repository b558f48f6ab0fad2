"""Every command with settings takes ``--config FILE.yaml`` and ``--set key=value``, strictly.

The list of commands comes from the real parser, so a new command without the config options fails here
unless it is deliberately listed in ``NO_SETTINGS`` with the reason.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from byol_transfer.cli import build_parser, main

# Commands whose only inputs are paths: nothing to configure, so no --config / --set.
NO_SETTINGS = {
    "export": "a run folder in, a weights file out",
    "recipes": "lists the built-in recipes",
}
# Commands whose --config is the recipe (a recipe name, recipe YAML or run config.yaml): --set only.
RECIPE_CONFIG = {"pretrain", "preview"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser, _ = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    out = {}
    for name, sub in action.choices.items():
        nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:  # prepare tiles / prepare shards
            out.update({f"{name} {n}": p for n, p in nested[0].choices.items()})
        else:
            out[name] = sub
    return out


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings}


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_takes_config_and_set(name):
    if name in NO_SETTINGS:
        return
    options = _options(_commands()[name])
    assert "--set" in options, f"{name} has no --set"
    assert "--config" in options, f"{name} has no --config"


@pytest.fixture
def inputs(tmp_path, image_folder):
    """Minimal valid arguments per command (everything but the setting under test)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    folder = image_folder(8, 3)
    scene = tmp_path / "scene.tif"
    with rasterio.open(scene, "w", driver="GTiff", width=32, height=32, count=2, dtype="uint16", crs="EPSG:32633",
                       transform=from_origin(500_000, 4_000_000, 10, 10)) as dst:
        dst.write(np.full((2, 32, 32), 100, dtype=np.uint16))
    results = tmp_path / "results.csv"
    results.write_text("init,evaluator,fraction,n_labels,seed,metric,value\nrandom,linear,1,10,0,accuracy,0.5\n")
    out = tmp_path / "out"
    return {
        "pretrain": ["pretrain", "--config", "natural_rgb", "--data", folder, "--out", out],
        "preview": ["preview", "--config", "natural_rgb", "--data", folder, "--out", tmp_path / "v.png"],
        "stats": ["stats", "--data", folder, "--out", tmp_path / "stats.json"],
        "prepare tiles": ["prepare", "tiles", scene, "--size", "16", "--out", out],
        "prepare shards": ["prepare", "shards", "--data", folder, "--out", out],
        "report": ["report", results, "--out", out],
        "label-efficiency": ["label-efficiency", "--data", folder, "--backbone", "random", "--arch", "byol_tiny_cnn",
                             "--recipe", "natural_rgb", "--out", out],
        "segment": ["segment", "--data", folder, "--backbone", "random", "--encoder", "resnet18", "--out", out],
        "predict": ["predict", "--model", tmp_path / "model", "--data", folder, "--out", out],
    }


def _run(capsys, argv) -> tuple[int, list[str]]:  # noqa: ANN001
    capsys.readouterr()
    code = main(["-q", *map(str, argv)])
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip() and not line.startswith("byol-transfer: ")]


@pytest.mark.parametrize("name", sorted(set(_commands()) - set(NO_SETTINGS)))
def test_an_unknown_set_key_is_one_line_naming_the_dotted_key(name, inputs, capsys, tmp_path):
    code, lines = _run(capsys, [*inputs[name], "--set", "nonexistent.key=1"])
    assert code == 2 and len(lines) == 1, lines
    assert "unknown key 'nonexistent'" in lines[0], lines[0]
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.parametrize("name", sorted(set(_commands()) - set(NO_SETTINGS) - RECIPE_CONFIG))
def test_an_unknown_key_in_the_config_file_names_the_file_and_the_key(name, inputs, capsys, tmp_path):
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump({"tpyo": 1}))
    code, lines = _run(capsys, [*inputs[name], "--config", config])
    assert code == 2 and len(lines) == 1, lines
    assert "settings.yaml: unknown key 'tpyo'" in lines[0], lines[0]


def test_prepare_tiles_writes_its_resolved_config_and_reruns_from_it(inputs, capsys, tmp_path):
    assert _run(capsys, inputs["prepare tiles"])[0] == 0
    written = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert written["size"] == 16 and written["min_valid"] == 0.9 and written["scenes"] == [str(tmp_path / "scene.tif")]
    assert _run(capsys, ["prepare", "tiles", "--config", tmp_path / "out" / "config.yaml",
                         "--out", tmp_path / "again"])[0] == 0
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == sorted(p.name for p in (tmp_path / "out").iterdir())


def test_stats_records_its_settings_in_stats_json(inputs, capsys, tmp_path):
    import json

    assert _run(capsys, [*inputs["stats"], "--set", "max_images=4"])[0] == 0
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["images"] == 4 and stats["config"]["max_images"] == 4
    assert stats["config"]["data"]["path"] == str(Path(inputs["stats"][2]))


def test_pretrain_records_the_card_in_config_yaml(image_folder, capsys, tmp_path):
    folder = image_folder(8, 3)
    code, _ = _run(capsys, ["pretrain", "--config", "natural_rgb", "--data", folder, "--out", tmp_path / "run",
                            "--card", "eurosat_rgb", "--backbone", "byol_tiny_cnn", "--image-size", "16",
                            "--batch-size", "4", "--max-steps", "1", "--device", "cpu",
                            "--set", "data.num_workers=0"])
    assert code == 0
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]["card"] == "eurosat_rgb"


def test_pretrain_bands_keeps_the_named_bands_and_records_them(image_folder, capsys, tmp_path):
    import torch

    from byol_transfer.train.checkpoint import load_checkpoint

    folder = image_folder(8, 4)  # 4-band GeoTIFFs
    code, lines = _run(capsys, ["pretrain", "--config", "satellite_multispectral", "--data", folder, "--out",
                                tmp_path / "run", "--bands", "1,3", "--backbone", "byol_tiny_cnn", "--image-size", "16",
                                "--batch-size", "4", "--max-steps", "1", "--device", "cpu",
                                "--set", "data.num_workers=0", "--set", "recipe.channels.count=2"])
    assert code == 0, lines
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["data"]["bands"] == "1,3" and config["model"]["in_chans"] == 2
    state = load_checkpoint(tmp_path / "run" / "last.ckpt")
    first_conv = next(v for k, v in state["model"].items() if v.ndim == 4)
    assert first_conv.shape[1] == 2 and torch.isfinite(first_conv).all()


def test_pretrain_bands_with_the_wrong_count_for_the_recipe_is_refused_before_reading(image_folder, capsys,
                                                                                     tmp_path):
    code, lines = _run(capsys, ["pretrain", "--config", "natural_rgb", "--data", image_folder(8, 4), "--out",
                                tmp_path / "run", "--bands", "1,2", "--backbone", "byol_tiny_cnn"])
    assert code == 2 and len(lines) == 1 and "natural_rgb" in lines[0], lines
