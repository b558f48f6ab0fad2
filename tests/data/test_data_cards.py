"""Data cards: loading, packaging, detection, and what they configure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from byol_transfer.augment.recipes import build_two_views, load_recipe
from byol_transfer.cli import main
from byol_transfer.config import read_yaml
from byol_transfer.data.build import build_dataset
from byol_transfer.data.cards import card_dirs, list_cards, load_card
from byol_transfer.data.recipe_card import apply_card
from byol_transfer.errors import UserError

REPO = Path(__file__).resolve().parents[2]
REAL = {"eurosat_rgb", "eurosat_ms", "water_seg", "pneumoniamnist", "kvasir_seg"}
TEXT_ONLY = {"bigearthnet", "sentinel2_l2a"}


def test_every_card_loads_strictly_and_is_complete():
    cards = {c.name: c for c in list_cards()}
    assert set(cards) >= REAL | TEXT_ONLY
    for name, card in cards.items():
        assert Path(card.path).parent.name == name
        assert card.title and card.source, name
        if card.band_names:
            assert len(card.band_names) == card.channels
        if name in REAL:
            stats = json.loads((card.folder / "stats.json").read_text())  # written by `byol-transfer stats`
            assert len(stats["mean"]) == len(stats["std"]) == card.channels == len(stats["p1"])
            assert stats["card"] == name and all(s > 0 for s in stats["std"])
        if name in TEXT_ONLY:
            assert card.text_only and card.stats_path is None
    assert cards["eurosat_ms"].band_names == ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09",
                                              "B10", "B11", "B12", "B8A"]
    assert cards["eurosat_ms"].scaling.kind == "divide" and cards["eurosat_ms"].scaling.value == 10000


def test_every_card_folder_is_packed_into_the_wheel():
    """pyproject force-includes card folders one by one (datasets/ also holds generated demo data)."""
    text = (REPO / "pyproject.toml").read_text()
    packed = set(re.findall(r'^"datasets/([^"]+)" = "byol_transfer/_datasets/\1"$', text, re.MULTILINE))
    assert packed == {p.parent.name for p in (REPO / "datasets").glob("*/card.yaml")}
    assert REPO / "datasets" in card_dirs()


def test_unknown_key_or_card_is_a_clear_error(tmp_path):
    (tmp_path / "card.yaml").write_text("name: x\ntitle: X\nlayout: npz\nbandz: [a]\n")
    with pytest.raises(UserError, match=r"card.yaml: unknown key 'bandz'"):
        load_card(tmp_path)
    with pytest.raises(UserError, match="unknown data card 'nope'; choose one of: .*eurosat_ms"):
        load_card("nope")


def test_card_is_detected_from_the_layout(eurosat_like, write):
    ds = build_dataset(eurosat_like, 8)
    assert ds.card is not None and ds.card.name == "eurosat_ms" and ds.band_names[-1] == "B8A"
    assert build_dataset(eurosat_like, 8, card=False).card is None
    plain = write.seg_folder("polyps", 2)
    assert build_dataset(plain, 8).card is None  # RGB pairs are common: only a kvasir-named folder matches
    named = write.seg_folder("kvasir_seg", 2)
    assert build_dataset(named, 8).card.name == "kvasir_seg"


def test_card_mapping_and_band_count_checks(write):
    root = write.seg_folder("kvasir_seg", 2)  # masks {0, 255}
    sample = build_dataset(root, 8, card="kvasir_seg")[0]
    assert set(sample["mask"].unique().tolist()) == {0, 1}
    tiles = write.class_folders("ms12", ["Forest"], 2, bands=12)
    with pytest.raises(UserError, match="Forest_0.tif: 12 band.*data card declares 13"):
        build_dataset(tiles, 8, card="eurosat_ms")


def test_band_count_different_from_the_recipe_fails_before_training(eurosat_like):
    ds = build_dataset(eurosat_like, 8)
    with pytest.raises(UserError, match="accepts 3 channel.*data have 13"):
        build_two_views(load_recipe("natural_rgb"), 8, ds.in_chans, ds.dtype)


def test_card_sets_scaling_and_fills_normalisation_a_recipe_leaves_open():
    recipe = load_recipe("satellite_multispectral")  # divide by 10000, no normalisation declared
    card = load_card("eurosat_ms")
    apply_card(recipe, card)
    assert recipe.scaling.kind == "divide" and recipe.scaling.value == 10000
    assert recipe.normalize.stats == str(card.folder / "stats.json")
    water = load_recipe("satellite_multispectral")
    apply_card(water, load_card("water_seg"))  # heterogeneous bands: the card's per-band clip wins
    assert water.scaling.kind == "percentile_clip" and Path(water.scaling.stats).is_absolute()
    assert water.normalize.stats.endswith("water_seg/stats.json")
    kept = load_recipe("satellite_multispectral")
    apply_card(kept, load_card("water_seg"), keep_scaling=True)  # --set recipe.scaling... was given
    assert kept.scaling.kind == "divide" and kept.normalize.stats is None
    explicit = load_recipe("grayscale")  # declares its own mean/std: the recipe names its source
    apply_card(explicit, load_card("pneumoniamnist"))
    assert explicit.normalize.stats is None and explicit.normalize.mean == [0.5]


def test_pretrain_cli_takes_a_card(eurosat_like, tmp_path, capsys):
    args = ["-q", "pretrain", "--config", "satellite_multispectral", "--data", str(eurosat_like),
            "--card", "eurosat_ms",
            "--out", str(tmp_path / "run"), "--backbone", "byol_tiny_cnn", "--image-size", "8",
            "--batch-size", "8", "--max-steps", "1",
            "--set", "model.projector_hidden=16",
            "--set", "model.predictor_hidden=16", "--set", "data.num_workers=0",
            "--set", "optim.name=adamw"]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    config = read_yaml(tmp_path / "run" / "config.yaml")
    assert config["recipe"]["scaling"]["kind"] == "divide" and config["recipe"]["scaling"]["value"] == 10000
    assert config["recipe"]["normalize"]["stats"].endswith("eurosat_ms/stats.json")
    assert config["model"]["in_chans"] == 13


def test_text_only_card_documents_and_still_names_bands(write):
    card = load_card("sentinel2_l2a")
    assert card.text_only and card.band_names[3] == "B04"
    array = np.full((12, 32, 32), 500, np.uint16)
    scene = write.geotiff("l2a.tif", array, nodata=0)
    ds = build_dataset(scene, 16, card="sentinel2_l2a", bands=["B04", "B03", "B02"])
    assert ds.in_chans == 3 and ds.band_names == ["B04", "B03", "B02"] and len(ds) == 4


def test_a_segmentation_card_reads_its_images_folder_alone_for_pretraining(write):
    root = write.seg_folder("kvasir_seg", 2)
    ds = build_dataset(root / "images", 8, card="kvasir_seg")
    assert ds.layout == "image_folder" and ds.card.name == "kvasir_seg" and "mask" not in ds[0]
