"""Weights for other bands in label-efficiency and segment (models/weights.py adapts the first conv), and the
evaluation size taken from the export sidecar.

A real RGB export (conftest.py's ``rgb_export``: BYOL steps of byol_tiny_cnn on red/green/blue PNGs) goes into 13-band Sentinel-2-like
GeoTIFF folders described by a tiny card (band names, value scaling, stats.json) written into tmp_path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from byol_transfer.cli import main
from byol_transfer.data.cards import load_card
from byol_transfer.errors import UserError
from byol_transfer.models.weights import read_export
from byol_transfer.transfer.inits import build_inits, choose_image_size, parse_backbone_specs, segmentation_inits

S2_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A"]
RGB = ["red", "green", "blue"]
CARD_MEAN = [0.01 * (i + 1) for i in range(13)]  # distinct per band, so a mix-up shows
CARD_STD = [0.1 + 0.01 * i for i in range(13)]
EXPORT_SIZE = 16  # what the RGB export (conftest.py's rgb_export) was pretrained at
DATA_SIZE = 24  # the 13-band tiles' own size: different, so the sidecar's size is visibly chosen


def unnamed_copy(export: Path, folder: Path) -> Path:
    """The same export with the band names removed from its sidecar."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "unnamed.safetensors"
    shutil.copy(export, path)
    meta = json.loads(Path(f"{export}.json").read_text())
    meta.pop("band_names", None)
    Path(f"{path}.json").write_text(json.dumps(meta))
    return path


def write_card(folder: Path, band_names: list[str] | None = S2_BANDS) -> Path:
    """A card for 13-band uint16 GeoTIFF class folders: band names, divide-by-10000 scaling, stats.json."""
    folder.mkdir(parents=True, exist_ok=True)
    card = {"name": "tiny_s2", "title": "tiny Sentinel-2-like tiles", "layout": "geotiff_tiles", "channels": 13,
            "dtype": "uint16", "scaling": {"kind": "divide", "value": 10000}, "classes": ["class_0", "class_1"],
            "labels": "subfolder", "recipe": "satellite_multispectral"}
    if band_names:
        card["band_names"] = band_names
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    (folder / "stats.json").write_text(json.dumps({"mean": CARD_MEAN, "std": CARD_STD}))
    return folder / "card.yaml"


@pytest.fixture
def s2_folder(tmp_path, labelled_folder):
    """13-band GeoTIFF class folders (train/ + test/) at DATA_SIZE px and their card."""
    data = tmp_path / "s2"
    data.mkdir()
    shutil.move(labelled_folder(6, channels=13, size=DATA_SIZE), data / "train")
    shutil.move(labelled_folder(3, channels=13, size=DATA_SIZE, seed=1), data / "test")
    return data, write_card(tmp_path / "card")


def test_rgb_export_on_13_bands_adapts_the_first_conv_only_and_uses_the_cards_pixels(rgb_export, tmp_path):
    weights, meta = read_export(rgb_export)
    assert meta["band_names"] == RGB and meta["in_chans"] == 3
    card = load_card(write_card(tmp_path / "card"))
    rgb, rand = build_inits([f"rgb={rgb_export}", "random"], 13, band_names=S2_BANDS, card=card)
    own = rgb.backbone.state_dict()
    key = "stem.0.weight"
    assert set(own) == set(weights)
    assert all(torch.equal(own[k], v) for k, v in weights.items() if k != key)  # strict everywhere else
    source, kernel = weights[key], own[key]
    assert kernel.shape == (source.shape[0], 13, *source.shape[2:])
    scale = 3 / 13  # S/T: the summed response stays the source's
    for target, src in (("B04", 0), ("B03", 1), ("B02", 2)):  # red, green, blue land exactly there
        assert torch.equal(kernel[:, S2_BANDS.index(target)], source[:, src] * scale), target
    mean = source.mean(dim=1) * scale
    for band in ("B01", "B05", "B08", "B8A"):
        assert torch.equal(kernel[:, S2_BANDS.index(band)], mean), band
    assert torch.allclose(kernel.sum(dim=1), source.sum(dim=1), atol=1e-6)
    assert rgb.band_mapping.split(",")[:4] == ["B01=mean", "B02=blue", "B03=green", "B04=red"]
    # the sidecar's scaling/normalisation describe RGB in [0, 1]; the 13 bands get the card's
    for init in (rgb, rand):
        assert init.transform.scaling.spec.kind == "divide" and init.transform.scaling.spec.value == 10000
        assert init.transform.normalize.mean.flatten().tolist() == pytest.approx(CARD_MEAN)
        assert init.transform.normalize.std.flatten().tolist() == pytest.approx(CARD_STD)
    assert "data card tiny_s2" in rgb.pixels_from and rgb.recipe == "satellite_multispectral"
    assert rgb.describe()["band_mapping"] == rgb.band_mapping and rand.band_mapping is None


def test_band_map_overrides_names_and_an_explicit_recipe_wins(rgb_export, tmp_path):
    weights, _ = read_export(rgb_export)
    (rgb,) = build_inits([f"rgb={rgb_export}"], 4, band_names=["B02", "B03", "B04", "B08"],
                         band_map="B08=red,B02=2", recipe="satellite_multispectral")
    kernel, source = rgb.backbone.state_dict()["stem.0.weight"], weights["stem.0.weight"]
    assert torch.equal(kernel[:, 3], source[:, 0] * (3 / 4)) and torch.equal(kernel[:, 0], source[:, 1] * (3 / 4))
    assert torch.equal(kernel[:, 2], source[:, 0] * (3 / 4))  # B04 still by name: red
    assert rgb.band_mapping == "B02=green,B03=green,B04=red,B08=red"
    assert rgb.pixels_from == "recipe satellite_multispectral"


def test_same_bands_load_as_is_with_the_sidecars_pixels(rgb_export):
    _, meta = read_export(rgb_export)
    (rgb,) = build_inits([f"rgb={rgb_export}"], 3, band_names=["B04", "B03", "B02"])  # aliases: red = B04 ...
    assert rgb.band_mapping is None and rgb.pixels_from == "its sidecar"
    assert rgb.transform.normalize.mean.flatten().tolist() == pytest.approx(meta["normalize"]["mean"])


def test_unnamed_bands_of_another_count_are_a_one_line_error_naming_both_lists(rgb_export, tmp_path):
    unnamed = unnamed_copy(rgb_export, tmp_path)
    with pytest.raises(UserError) as caught:
        build_inits([f"x={unnamed}"], 13, band_names=S2_BANDS, card=load_card(write_card(tmp_path / "card")))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"--backbone x={unnamed}: ")
    assert "3 band(s) (no names)" in message and "13 band(s) (B01, B02" in message and "--band-map" in message
    # 'repeat' is the rule that needs no names
    (init,) = build_inits([f"x={unnamed}"], 13, band_names=S2_BANDS, band_map="repeat",
                          card=load_card(write_card(tmp_path / "card")))
    assert init.band_mapping.startswith("B01=1,B02=2,B03=3,B04=1")
    with pytest.raises(UserError, match="no --backbone names one"):
        build_inits(["random"], 13, arch="byol_tiny_cnn", band_map="repeat", card=load_card(write_card(tmp_path)))


def test_label_efficiency_rgb_export_on_13_band_geotiffs_end_to_end(rgb_export, s2_folder, tmp_path, capsys, caplog):
    data, card = s2_folder
    out = tmp_path / "le"
    caplog.set_level("INFO")
    code = main(["-q", "label-efficiency", "--data", str(data), "--card", str(card), "--backbone",
                 f"rgb={rgb_export}", "random", "--fractions", "1.0", "--seeds", "1", "--evaluators", "knn",
                 "--no-progress", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    expected = "evaluating at 16 px: the pretraining size recorded in rgb's sidecar; --image-size overrides"
    assert expected in caplog.messages
    config = yaml.safe_load((out / "config.yaml").read_text())
    mapping = config["chosen"]["band_mappings"]["rgb"]
    assert mapping.split(",")[1:4] == ["B02=blue", "B03=green", "B04=red"] and "random" not in config["chosen"][
        "band_mappings"]
    assert config["chosen"]["image_size"] == EXPORT_SIZE and "rgb's sidecar" in config["chosen"]["image_size_from"]
    assert config["inits"]["band_map"] is None and config["image_size"] is None
    run = json.loads((out / "run.json").read_text())
    inits = {i["name"]: i for i in run["inits"]}
    assert inits["rgb"]["band_mapping"] == mapping and inits["random"]["band_mapping"] is None
    assert "tiny_s2" in inits["rgb"]["scaling_and_normalisation_from"]
    assert run["data"]["image_size"] == EXPORT_SIZE
    assert "first conv adapted" in (out / "report.md").read_text()


def test_label_efficiency_image_size_overrides_the_sidecar(rgb_export, s2_folder, tmp_path, capsys, caplog):
    data, card = s2_folder
    out = tmp_path / "le"
    caplog.set_level("INFO")
    code = main(["-q", "label-efficiency", "--data", str(data), "--card", str(card), "--backbone",
                 f"rgb={rgb_export}", "--image-size", "20", "--fractions", "1.0", "--seeds", "1",
                 "--evaluators", "knn", "--band-map", "repeat", "--no-progress", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "evaluating at 20 px: --image-size (pretrained: rgb at 16 px)" in caplog.messages
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["chosen"]["image_size"] == 20 and config["inits"]["band_map"] == "repeat"
    assert config["chosen"]["band_mappings"]["rgb"].startswith("B01=red,B02=green,B03=blue,B04=red")
    assert json.loads((out / "run.json").read_text())["data"]["image_size"] == 20


def test_label_efficiency_unnamed_mismatch_exits_non_zero_and_writes_nothing(rgb_export, s2_folder, tmp_path,
                                                                             capsys):
    data, _ = s2_folder
    unnamed_card = write_card(tmp_path / "unnamed_card", band_names=None)
    out = tmp_path / "le"
    code = main(["-q", "label-efficiency", "--data", str(data), "--card", str(unnamed_card), "--backbone",
                 f"x={unnamed_copy(rgb_export, tmp_path / 'w')}", "--fractions", "1.0", "--seeds", "1",
                 "--evaluators", "knn", "--no-progress", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "3 band(s) (no names)" in lines[0] and "13 band(s) (no names)" in lines[0], err
    assert not out.exists()


def test_evaluation_size_rule(rgb_export, tmp_path):
    other = tmp_path / "other.safetensors"
    shutil.copy(rgb_export, other)
    meta = json.loads(Path(f"{rgb_export}.json").read_text())
    Path(f"{other}.json").write_text(json.dumps({**meta, "image_size": 64}))
    one = parse_backbone_specs([f"a={rgb_export}", "random", "channel-stats"])
    assert choose_image_size(None, one).size == EXPORT_SIZE  # baselines follow the pretrained init
    assert choose_image_size(None, parse_backbone_specs(["random", "kaiming"])).size is None  # the data's own
    both = parse_backbone_specs([f"a={rgb_export}", f"b={other}"])
    with pytest.raises(UserError, match=r"different sizes \(a at 16 px, b at 64 px\); pass --image-size"):
        choose_image_size(None, both)
    assert choose_image_size(32, both).size == 32


def test_segmentation_export_for_other_bands_is_adapted_before_the_stem_check(seg_write, tmp_path):
    path, weights = seg_write.export(tmp_path / "rgb.safetensors", "resnet18", 3)
    meta = json.loads(Path(f"{path}.json").read_text())
    Path(f"{path}.json").write_text(json.dumps({**meta, "band_names": RGB}))
    images = torch.randint(0, 10_000, (4, 4, 32, 32), dtype=torch.int16)
    bands = ["B02", "B03", "B04", "B08"]
    (init,) = segmentation_inits([("rgb", str(path))], 4, "tu-resnet18", None, None, images, bands)
    own = init.backbone.state_dict()
    assert all(torch.equal(own[k], v) for k, v in weights.items() if k != "conv1.weight")
    assert torch.equal(own["conv1.weight"][:, 2], weights["conv1.weight"][:, 0] * 0.75)  # red → B04
    assert init.band_mapping == "B02=blue,B03=green,B04=red,B08=mean"
    # the sidecar's 3 normalisation values describe RGB: the 4 bands get their own (measured: no card)
    assert init.transform.normalize.mean.numel() == 4 and init.pixels_from == "measured on --data"
    with pytest.raises(UserError, match=r"rgb=.*no band of the data 4 band\(s\) \(a, b, c, d\) matches a band of the "
                                        r"weights 3 band\(s\) \(red, green, blue\)"):
        segmentation_inits([("rgb", str(path))], 4, "tu-resnet18", None, None, images, ["a", "b", "c", "d"])
