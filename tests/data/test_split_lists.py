"""Committed split lists (a card's ``split_lists``): which pairs segment and stats read, and the records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from byol_transfer.cli import main
from byol_transfer.data.build import build_dataset
from byol_transfer.data.cards import load_card
from byol_transfer.data.split_lists import file_sha256, read_split_list, seeded_split
from byol_transfer.errors import UserError
from byol_transfer.transfer.commands.segment import load_pool_and_test, schema

NAMES = [f"{i}.png" for i in range(6)]
TRAIN, TEST = NAMES[:4], NAMES[4:]


def pairs(root: Path, bright: set[str] = frozenset()) -> Path:
    """6 RGB 8×8 PNGs with binary masks; images in ``bright`` are 200, the rest 20."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name in NAMES:
        value = 200 if name in bright else 20
        Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(root / "images" / name)
        mask = np.zeros((8, 8), np.uint8)
        mask[:4] = 1
        Image.fromarray(mask).save(root / "masks" / name)
    return root


def card(folder: Path, train: list[str] = TRAIN, test: list[str] = TEST) -> Path:
    (folder / "splits").mkdir(parents=True)
    (folder / "splits" / "train.txt").write_text("".join(f"{n}\n" for n in train))
    (folder / "splits" / "test.txt").write_text("".join(f"{n}\n" for n in test))
    (folder / "card.yaml").write_text(
        "name: tiny\ntitle: tiny pairs\nlayout: segmentation\ntask: segmentation\nchannels: 3\n"
        "segmentation: {mapping: {0: 0, 1: 1}, classes: [a, b]}\n"
        "split_lists: {train: splits/train.txt, test: splits/test.txt}\n")
    return folder / "card.yaml"


def names(dataset) -> list[str]:  # noqa: ANN001
    return [p.name for p in dataset.files]


def segment_cfg(data: Path, card_path: Path, **grid):  # noqa: ANN003
    cfg = schema()()
    cfg.data.path, cfg.data.card = str(data), str(card_path)
    for key, value in grid.items():
        setattr(cfg.grid, key, value)
    return cfg


def test_split_list_paths_resolve_relative_to_the_card_not_the_data(tmp_path):
    data = pairs(tmp_path / "data")
    c = load_card(card(tmp_path / "cards" / "tiny"))
    assert c.split_list_path("train") == tmp_path / "cards" / "tiny" / "splits" / "train.txt"
    ds = build_dataset(data, 8, card=c)  # default: the training list
    assert names(ds) == TRAIN
    assert ds.split_record == {"split": "train", "from": "card split_lists (relative to the card)",
                               "path": "splits/train.txt",
                               "sha256": file_sha256(c.split_list_path("train"))}
    assert names(build_dataset(data, 8, card=c, split="test")) == TEST
    assert len(build_dataset(data, 8, card=c, split="all")) == 6


def test_a_card_naming_a_missing_list_is_refused(tmp_path):
    path = card(tmp_path / "tiny")
    (tmp_path / "tiny" / "splits" / "test.txt").unlink()
    with pytest.raises(UserError, match=r"split_lists.test 'splits/test.txt' is not a file relative to the card"):
        load_card(path)


def test_a_listed_name_missing_from_the_data_is_one_error_naming_list_and_name(tmp_path):
    data = pairs(tmp_path / "data")
    c = load_card(card(tmp_path / "tiny", train=[*TRAIN[:2], "nope.png", "gone.png"]))
    with pytest.raises(UserError) as e:
        build_dataset(data, 8, card=c)
    message = str(e.value)
    assert "\n" not in message and str(c.split_list_path("train")) in message
    assert "'nope.png'" in message and "gone" not in message


def test_segment_pool_and_test_are_exactly_the_card_lists(tmp_path):
    data = pairs(tmp_path / "data")
    path = card(tmp_path / "tiny")
    _, pool, test, info = load_pool_and_test(segment_cfg(data, path), {})
    assert pool.names == [f"images/{n}" for n in TRAIN] and test is not None
    assert test.names == [f"images/{n}" for n in TEST]
    assert info["test"] == "card split list"
    assert info["train"]["path"] == "splits/train.txt" and info["test_split"]["path"] == "splits/test.txt"


def test_an_explicit_test_fraction_wins_over_the_card_lists(tmp_path):
    data = pairs(tmp_path / "data")
    _, pool, test, info = load_pool_and_test(segment_cfg(data, card(tmp_path / "tiny"), test_fraction=0.5), {})
    assert test is None and info["test"] == "holdout" and len(pool.names) == 6  # hold-out of every pair


def test_explicit_test_data_wins_and_contradicting_test_fraction_is_refused(tmp_path):
    data = pairs(tmp_path / "data")
    other = pairs(tmp_path / "other")
    path = card(tmp_path / "tiny")
    cfg = segment_cfg(data, path)
    cfg.test.path = str(other)
    _, pool, test, info = load_pool_and_test(cfg, {})
    assert info["test"] == "test.path" and len(pool.names) == 6 and len(test.names) == 4  # its train list
    cfg.grid.test_fraction = 0.3
    with pytest.raises(UserError, match="--test-fraction 0.3 draws a hold-out, but the test set is the --test-data"):
        load_pool_and_test(cfg, {})


def test_stats_use_the_train_list_and_record_it(tmp_path, capsys):
    data = pairs(tmp_path / "data", bright=set(TEST))  # test images differ: all-image stats would too
    path = card(tmp_path / "tiny")
    assert main(["stats", "--data", str(data), "--card", str(path), "--out", str(tmp_path / "train.json")]) == 0
    assert main(["stats", "--data", str(data), "--card", str(path), "--split", "all",
                 "--out", str(tmp_path / "all.json")]) == 0
    train, every = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("train", "all"))
    assert train["images"] == 4 and every["images"] == 6
    assert train["raw"]["mean"] == [20.0] * 3 and every["raw"]["mean"][0] > 20
    assert train["split"] == "train" and train["split_file"] == "splits/train.txt"
    assert train["split_sha256"] == file_sha256(tmp_path / "tiny" / "splits" / "train.txt")
    assert every["split"] == "all" and "split_file" not in every


def test_seeded_split_sorts_naturally_and_is_reproducible():
    names = [f"{i}.tif" for i in range(10, -1, -1)]
    split = seeded_split(names)
    assert len(split["test"]) == 2 and len(split["train"]) == 9
    assert sorted(split["train"] + split["test"], key=lambda n: int(n[:-4])) == [f"{i}.tif" for i in range(11)]
    assert split == seeded_split(list(reversed(names)))


def test_a_split_list_naming_an_image_twice_is_refused(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("a.png\n# comment\n\nb.png\na.png\n")
    with pytest.raises(UserError, match=r"train.txt: 'a.png' is listed twice"):
        read_split_list(path)


def test_a_subset_read_with_the_card_is_read_whole_unless_a_split_is_asked_for(tmp_path):
    data = pairs(tmp_path / "data")
    (data / "images" / "5.png").unlink()
    (data / "masks" / "5.png").unlink()  # 5 images, the lists name 6: not the card's copy
    path = card(tmp_path / "tiny")
    ds = build_dataset(data, 8, card=load_card(path))
    assert len(ds) == 5 and ds.split_record["split"] == "all"
    _, pool, test, info = load_pool_and_test(segment_cfg(data, path), {})
    assert test is None and info["test"] == "holdout" and len(pool.names) == 5
    with pytest.raises(UserError, match=r"test.txt: lists '5.png'"):
        build_dataset(data, 8, card=load_card(path), split="test")
