"""The shard stream: split over ranks and DataLoader workers, seeded per epoch, resumable mid-epoch."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from torch.utils.data import DataLoader

from byol_transfer.data.build import build_dataset
from byol_transfer.data.shards import build_shard_stream, encode_sample, write_shards
from byol_transfer.errors import UserError

@pytest.fixture
def shards(write, tmp_path) -> Path:
    """24 samples in 8 shards of 3."""
    data = write.class_folders(write.root / "tiles", ["x"], 24, bands=4, size=8)
    out = tmp_path / "shards"
    dataset = build_dataset(data, None)
    sample_bytes = sum(len(v) for k, v in encode_sample(dataset[0], "0").items() if k != "__key__")
    report = write_shards(dataset, out, int(2.5 * sample_bytes), source="tiles")  # closed after the 3rd
    assert [s["samples"] for s in report.index.shards] == [3] * 8
    return out


def keys_of(loader, batches=None) -> list[str]:
    taken = loader if batches is None else itertools.islice(loader, batches)
    return [k for batch in taken for k in batch["meta"]["key"]]


@pytest.mark.parametrize("workers", [0, 2])
def test_ranks_and_workers_together_see_every_sample_once(shards, monkeypatch, workers):
    per_rank = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        stream = build_shard_stream(shards, passes=1, shuffle_buffer=5, seed=3)
        per_rank.append(keys_of(DataLoader(stream, batch_size=4, num_workers=workers)))
    assert [len(k) for k in per_rank] == [12, 12]
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == [f"{i:09d}" for i in range(24)]


def test_each_epoch_is_a_new_order_and_an_epoch_replays_exactly(shards):
    stream = build_shard_stream(shards, passes=1, shuffle_buffer=6, seed=1)
    orders = []
    for epoch in (0, 1, 0):
        stream.set_position(epoch)
        orders.append([s["meta"]["key"] for s in stream])
    assert orders[0] == orders[2]  # seeded from (seed, epoch)
    assert orders[0] != orders[1]
    assert sorted(orders[0]) == sorted(orders[1])


@pytest.mark.parametrize("workers", [0, 2])
def test_a_resumed_epoch_serves_exactly_the_remaining_batches(shards, workers):
    stream = build_shard_stream(shards, shuffle_buffer=6, seed=2)  # endless, as in training
    loader = DataLoader(stream, batch_size=3, num_workers=workers)
    stream.set_position(1, 0, 3)
    whole = keys_of(loader, 8)
    stream.set_position(1, 3, 3)  # 3 batches of epoch 1 were consumed before the pause
    rest = keys_of(loader, 5)
    assert rest == whole[9:]


def test_an_endless_stream_wraps_around_instead_of_running_dry(shards):
    stream = build_shard_stream(shards, shuffle_buffer=0)
    keys = [s["meta"]["key"] for s in itertools.islice(stream, 30)]
    assert len(keys) == 30 and len(set(keys)) == 24


def test_more_ranks_than_shards_is_a_clear_error(shards, monkeypatch):
    monkeypatch.setenv("RANK", "8")
    monkeypatch.setenv("WORLD_SIZE", "9")
    with pytest.raises(UserError, match="8 shard.*9 rank"):
        next(iter(build_shard_stream(shards)))
