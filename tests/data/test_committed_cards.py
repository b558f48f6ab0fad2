"""Every committed stats.json was computed from its card's training split, and says so.

Normalisation statistics from all images would leak the test set into every model trained with them;
`byol-transfer stats` records the split it read (``split``, ``split_from``, and for a split file its
path as the card names it and its sha256), and this test holds every committed card to it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from byol_transfer.data.cards import list_cards
from byol_transfer.data.split_lists import file_sha256, read_split_list

REPO = Path(__file__).resolve().parents[2]
# how each card's training split is chosen; a new card with stats.json must be added here
TRAIN_FROM = {
    "eurosat_rgb": "card split_files (relative to --data)",
    "eurosat_ms": "train/ folder",
    "pneumoniamnist": "npz train_* arrays",
    "water_seg": "card split_lists (relative to the card)",
    "kvasir_seg": "card split_lists (relative to the card)",
}


def committed() -> list:
    return [c for c in list_cards() if c.stats_path is not None and Path(c.path).is_relative_to(REPO)]


def test_every_committed_stats_json_comes_from_the_training_split():
    cards = committed()
    assert {c.name for c in cards} == set(TRAIN_FROM)  # a card without its entry fails here, naming it
    for card in cards:
        stats = json.loads(card.stats_path.read_text())
        assert stats["card"] == card.name
        assert stats["split"] == "train", card.name
        assert stats["split_from"] == TRAIN_FROM[card.name], card.name
        if card.split_lists:  # committed beside the card: the very file, by hash and by count
            assert stats["split_file"] == card.split_lists["train"], card.name
            assert stats["split_sha256"] == file_sha256(card.split_list_path("train")), card.name
            assert stats["images"] == len(read_split_list(card.split_list_path("train"))), card.name
        if card.split_files:  # beside the data: the path the card names (the hash is checked on the data)
            assert stats["split_file"] == card.split_files["train"], card.name
    sizes = {c.name: json.loads(c.stats_path.read_text())["images"] for c in cards}
    assert sizes == {"eurosat_rgb": 21600, "eurosat_ms": 216, "pneumoniamnist": 4708, "water_seg": 245,
                     "kvasir_seg": 800}


def test_committed_split_lists_are_disjoint_and_sized_as_the_cards_say():
    for card in committed():
        if not card.split_lists:
            continue
        train, test = (set(read_split_list(card.split_list_path(s))) for s in ("train", "test"))
        assert not train & test, card.name
        assert len(train) + len(test) == card.expected["pairs"], card.name
        assert len(test) == round(0.2 * card.expected["pairs"]), card.name


@pytest.mark.realdata
def test_make_splits_reproduces_the_committed_lists(shared_data):
    done = subprocess.run([sys.executable, str(REPO / "datasets" / "make_splits.py"), str(shared_data), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.realdata
def test_split_files_beside_the_data_match_the_recorded_hash(shared_data):
    for card in committed():
        if card.split_files:
            stats = json.loads(card.stats_path.read_text())
            file = shared_data / card.name / card.split_files["train"]
            assert stats["split_sha256"] == file_sha256(file), card.name
