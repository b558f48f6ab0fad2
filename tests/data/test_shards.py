"""Shards: `prepare shards` packs every input the readers take bit-exactly, resumes, and streams back.

Each test packs a tiny real-format dataset through the CLI (or ``write_shards``) and compares every
streamed sample with the one the data layer reads from the source files: dtype, values, bands, labels,
masks and georeferencing metadata.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from byol_transfer.cli import main
from byol_transfer.data.build import build_dataset
from byol_transfer.data.cards import load_card
from byol_transfer.data.shards import build_shard_stream, read_index, resolve_shards, write_shards
from byol_transfer.data.stats import compute_stats
from byol_transfer.errors import UserError


def pack(data: Path, out: Path, *extra: str) -> None:
    assert main(["-q", "prepare", "shards", "--data", str(data), "--out", str(out), *extra]) == 0


def streamed(out: Path, **kw) -> dict[int, dict]:
    samples = list(build_shard_stream(out, passes=1, shuffle_buffer=0, **kw))
    by_key = {int(s["meta"]["key"]): s for s in samples}
    assert len(by_key) == len(samples)  # no sample twice
    return by_key


def assert_same_sample(got: dict, want: dict) -> None:
    assert got["image"].dtype == want["image"].dtype
    assert torch.equal(got["image"], want["image"])
    assert ("label" in got) == ("label" in want) and got.get("label") == want.get("label")
    assert ("mask" in got) == ("mask" in want)
    if "mask" in want:
        assert got["mask"].dtype == torch.long and torch.equal(got["mask"], want["mask"])
    for key, value in want["meta"].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(got["meta"][key], value), key
        else:
            assert got["meta"][key] == value, key


def two_class(write) -> Path:
    root = write.root / "classes"
    write.class_folders(root / "train", ["a", "b"], 3, bands=13)
    write.class_folders(root / "test", ["a", "b"], 2, bands=13)
    return root


CASES = {
    # name: (make the data, prepare shards flags, build_dataset kwargs that read the same samples)
    "geotiff_tiles_uint16": (lambda w: w.class_folders(w.root / "tiles", ["x"], 5, bands=13, size=8), [], {}),
    "scene_windows": (lambda w: w.root / "scene.tif", ["--tile", "16", "--stride", "8"],
                      {"tile_size": 16, "stride": 8}),
    "png_rgb_bands_2_1": (lambda w: w.class_folders(w.root / "png", ["x"], 4, suffix=".png"), ["--bands", "2,1"],
                          {"bands": [2, 1]}),
    "npz_labels": (lambda w: w.npz("m.npz", {"train": 6, "val": 2, "test": 3}), ["--labeled"], {"labeled": True}),
    "image_mask_pairs": (lambda w: w.seg_folder(w.root / "seg", 4, size=8), [], {}),
    "labelled_folders_train_split": (two_class, ["--labeled"], {"labeled": True}),
    "float32_geotiff": (lambda w: [w.geotiff(f"f/{i}.tif", w.rng.normal(size=(2, 8, 8)).astype(np.float32))
                                   for i in range(3)][0].parent, [], {}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_input_round_trips_bit_exactly(case, write, scene, tmp_path):
    make, flags, kwargs = CASES[case]
    data = make(write)
    out = tmp_path / "shards"
    pack(data, out, "--shard-size", "600B", *flags)  # several samples per shard at most: many shards
    source = build_dataset(data, None, **kwargs)
    got = streamed(out)
    assert sorted(got) == list(range(len(source)))
    for i in range(len(source)):
        assert_same_sample(got[i], source[i])
    index = read_index(out)
    assert index.total == len(source) and len(index.shards) > 1
    assert index.dtype == str(source[0]["image"].numpy().dtype)
    assert index.channels == source.in_chans
    assert index.band_names == list(getattr(source, "band_names", []) or [])
    assert index.has_masks == (case == "image_mask_pairs")


def test_scene_windows_keep_window_crs_and_transform(scene, tmp_path):
    pack(scene, tmp_path / "s", "--tile", "16", "--min-valid", "0.9")
    got = streamed(tmp_path / "s")
    sample = next(iter(got.values()))
    assert sample["meta"]["crs"] == "EPSG:32632"
    row, col = sample["meta"]["window"][:2].tolist()
    assert sample["meta"]["transform"][2].item() == 500_000.0 + 10.0 * col  # the window's own origin
    assert read_index(tmp_path / "s").band_names == ["B02", "B03", "B04", "B08"]
    assert all(s["meta"]["window"][1] >= 12 for s in got.values())  # the nodata columns were dropped


def test_card_stub_loads_and_its_stats_cover_the_training_split_only(write, tmp_path):
    data = two_class(write)
    pack(data, tmp_path / "s", "--labeled", "--scaling", "divide:10000")
    card = load_card(tmp_path / "s")
    assert card.channels == 13 and card.dtype == "uint16" and card.classes == ["a", "b"]
    assert card.scaling.kind == "divide" and card.scaling.value == 10000
    assert "train split" in card.notes
    stats = json.loads((tmp_path / "s" / "stats.json").read_text())
    train = build_dataset(data, None, labeled=True)  # the declared training split: 6 of the 10 images
    want = compute_stats(train, card.scaling)
    assert stats["images"] == 6
    np.testing.assert_allclose(stats["mean"], want["mean"], rtol=1e-12)
    np.testing.assert_allclose(stats["std"], want["std"], rtol=1e-12)
    assert read_index(tmp_path / "s").split == "train split"


def test_a_packed_test_split_gets_no_statistics(write, tmp_path):
    pack(two_class(write), tmp_path / "s", "--labeled", "--split", "test")
    assert load_card(tmp_path / "s").stats is None
    assert not (tmp_path / "s" / "stats.json").exists()
    assert read_index(tmp_path / "s").total == 4


class Interrupting(torch.utils.data.Dataset):
    """A dataset that stops the process (as Ctrl-C would) when sample ``at`` is read."""

    def __init__(self, dataset, at: int) -> None:
        self.dataset, self.at = dataset, at
        self.band_names = getattr(dataset, "band_names", None)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        if i == self.at:
            raise KeyboardInterrupt
        return self.dataset[i]


def test_an_interrupted_pack_resumes_to_byte_identical_shards(write, tmp_path):
    data = write.class_folders(write.root / "tiles", ["x"], 12, bands=4, size=8)
    source = build_dataset(data, None)
    write_shards(source, tmp_path / "whole", 1500, source="tiles")
    with pytest.raises(KeyboardInterrupt):
        write_shards(Interrupting(source, 7), tmp_path / "cut", 1500, source="tiles")
    assert not (tmp_path / "cut" / "index.json").exists()  # the index comes last
    assert not list((tmp_path / "cut").glob("*.tmp"))  # no half-written shard left behind
    kept = sorted(p.name for p in (tmp_path / "cut").glob("shard-*.tar"))
    assert kept  # complete shards before the interruption stay
    report = write_shards(source, tmp_path / "cut", 1500, source="tiles")
    assert report.kept_shards == len(kept) and 0 < report.written < len(source)
    whole = sorted((tmp_path / "whole").glob("shard-*.tar"))
    assert [p.name for p in whole] == sorted(p.name for p in (tmp_path / "cut").glob("shard-*.tar"))
    for p in whole:
        assert p.read_bytes() == (tmp_path / "cut" / p.name).read_bytes()


def test_resume_rewrites_a_damaged_shard_and_what_follows(write, tmp_path):
    data = write.class_folders(write.root / "tiles", ["x"], 10, bands=4, size=8)
    source = build_dataset(data, None)
    write_shards(source, tmp_path / "s", 1500, source="tiles")
    first = (tmp_path / "s" / "shard-000000.tar").read_bytes()
    second = tmp_path / "s" / "shard-000001.tar"
    second.write_bytes(second.read_bytes()[:700])  # cut short, as a full disk would leave it
    report = write_shards(source, tmp_path / "s", 1500, source="tiles")
    assert report.kept_shards == 1 and report.samples == 10
    assert (tmp_path / "s" / "shard-000000.tar").read_bytes() == first
    assert sorted(streamed(tmp_path / "s")) == list(range(10))


def test_packing_another_source_into_the_same_folder_is_refused(write, tmp_path):
    a = write.class_folders(write.root / "a", ["x"], 3, bands=4)
    b = write.class_folders(write.root / "b", ["x"], 4, bands=4)
    pack(a, tmp_path / "s")
    with pytest.raises(UserError, match="another call"):
        write_shards(build_dataset(b, None), tmp_path / "s", 10**9, source=str(b))


def test_unreadable_source_files_stop_the_pack_or_are_skipped_and_counted(write, tmp_path, capsys):
    data = write.class_folders(write.root / "png", ["x"], 4, suffix=".png")
    bad = data / "x" / "x_2.png"
    bad.write_bytes(bad.read_bytes()[:40])  # truncated
    assert main(["prepare", "shards", "--data", str(data), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("byol-transfer prepare: error:") and "x_2.png" in err[-1]
    pack(data, tmp_path / "b", "--skip-bad")
    assert read_index(tmp_path / "b").total == 3


def test_a_corrupt_shard_is_an_error_naming_it_or_skipped_and_counted(write, tmp_path):
    data = write.class_folders(write.root / "tiles", ["x"], 8, bands=4, size=8)
    out = tmp_path / "s"
    write_shards(build_dataset(data, None), out, 1500, source="tiles")
    shards = sorted(out.glob("shard-*.tar"))
    victim = shards[1]
    raw = bytearray(victim.read_bytes())
    raw[600:900] = b"\xff" * 300  # damage a tar header in the middle
    victim.write_bytes(bytes(raw))
    with pytest.raises(UserError, match=victim.name):
        list(build_shard_stream(out, passes=1))
    stream = build_shard_stream(out, passes=1, skip_bad=True)
    keys = {s["meta"]["key"] for s in stream}
    assert stream.skipped_shards + stream.skipped_samples >= 1
    assert 0 < len(keys) < 8
    first_shard_keys = {f"{i:09d}" for i in range(read_index(out).shards[0]["samples"])}
    assert first_shard_keys <= keys  # the intact shards are all there


def test_brace_patterns_select_shards_and_their_counts(write, tmp_path):
    data = write.class_folders(write.root / "tiles", ["x"], 9, bands=4, size=8)
    write_shards(build_dataset(data, None), tmp_path / "s", 1500, source="tiles")
    index = read_index(tmp_path / "s")
    assert len(index.shards) >= 3
    source = resolve_shards(f"{tmp_path}/s/shard-{{000000..000001}}.tar")
    assert source.total == index.shards[0]["samples"] + index.shards[1]["samples"]
    assert len(list(build_shard_stream(source, passes=1))) == source.total
    with pytest.raises(UserError, match="shard-000098.tar: not listed"):
        resolve_shards(f"{tmp_path}/s/shard-{{000098..000099}}.tar")


def test_a_shard_cut_at_a_tar_header_boundary_is_caught_by_its_index_count(write, tmp_path):
    data = write.class_folders(write.root / "tiles", ["x"], 6, bands=4, size=8)
    out = tmp_path / "s"
    write_shards(build_dataset(data, None), out, 10**9, source="tiles")
    shard = out / "shard-000000.tar"
    with tarfile.open(shard) as tar:
        third = tar.getmembers()[4].offset  # where sample 2's first header starts: a clean cut for tarfile
    shard.write_bytes(shard.read_bytes()[:third])
    with pytest.raises(UserError, match=r"shard-000000.tar: truncated shard \(2 of the 6 samples"):
        list(build_shard_stream(out, passes=1))


@pytest.mark.realdata
def test_eurosat_ms_train_split_packs_with_the_cards_own_statistics(shared_data, tmp_path):
    pack(shared_data / "eurosat_ms", tmp_path / "s", "--labeled", "--shard-size", "4MB")
    index = read_index(tmp_path / "s")
    assert index.total == 216 and index.dtype == "uint16" and index.channels == 13 and index.split == "train split"
    ours = json.loads((tmp_path / "s" / "stats.json").read_text())
    card = json.loads((Path(__file__).resolve().parents[2] / "datasets/eurosat_ms/stats.json").read_text())
    assert ours["images"] == card["images"] == 216
    np.testing.assert_allclose(ours["mean"], card["mean"], rtol=1e-12)
    np.testing.assert_allclose(ours["std"], card["std"], rtol=1e-12)
    assert load_card(tmp_path / "s").band_names == load_card("eurosat_ms").band_names
