"""Pretraining from webdataset shards: end to end, resume mid-epoch, and DDP coverage under torchrun."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from byol_transfer.augment.recipes import load_recipe
from byol_transfer.cli import main
from byol_transfer.config import to_dict
from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.data.shards import build_shard_stream, encode_sample, write_shards
from byol_transfer.train.loop import pretrain
from byol_transfer.train.run_config import resolve_config
from tests.conftest import write_image_folder

TINY = ["--backbone", "byol_tiny_cnn", "--image-size", "16", "--batch-size", "8",
        "--set", "model.projector_hidden=32", "--set", "model.projector_out=16", "--set", "model.predictor_hidden=32",
        "--set", "data.num_workers=0", "--set", "optim.name=adamw", "--set", "optim.base_lr=0.01",
        "--set", "train.precision=fp32", "--set", "train.log_every=1"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """32 RGB 16-px images in 4 shards of 8."""
    tmp = tmp_path_factory.mktemp("stream")
    dataset = ImageFolderDataset(write_image_folder(tmp / "images", 32, 3, size=16), 16)
    sample_bytes = sum(len(v) for k, v in encode_sample(dataset[0], "0").items() if k != "__key__")
    report = write_shards(dataset, tmp / "shards", int(7.5 * sample_bytes), source="images")
    assert [s["samples"] for s in report.index.shards] == [8, 8, 8, 8]
    return tmp / "shards"


def losses(run: Path) -> np.ndarray:
    with (run / "metrics.csv").open() as f:
        return np.array([float(r["loss"]) for r in csv.DictReader(f)])


def test_pretrain_on_shards_runs_end_to_end(shards, tmp_path, capsys):
    code = main(["-q", "pretrain", "--config", "natural_rgb", "--data", str(shards), "--out", str(tmp_path / "run"),
                 "--epochs", "2", *TINY])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "pretrained 8 steps" in out  # 2 epochs × 32 samples (from index.json) / batch 8
    rows = losses(tmp_path / "run")
    assert len(rows) == 8 and np.isfinite(rows).all()
    assert (tmp_path / "run" / "last.ckpt").is_file()


def test_pretrain_on_a_corrupt_shard_is_a_one_line_error_naming_it(shards, tmp_path, capsys):
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in shards.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    victim = broken / "shard-000002.tar"
    victim.write_bytes(victim.read_bytes()[:5000])
    code = main(["-q", "pretrain", "--config", "natural_rgb", "--data", f"{broken}/shard-{{000000..000003}}.tar",
                 "--out", str(tmp_path / "run"), "--epochs", "1", *TINY, "--set", "data.num_workers=2"])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error:" in line]  # other lines: the progress bar
    assert code == 2 and "Traceback" not in err
    assert len(errors) == 1 and errors[0].startswith("byol-transfer pretrain: error:"), err
    # cut mid-member: the memory-mapped reader gets the whole samples before the cut, the count check the rest
    assert "shard-000002.tar: truncated shard (2 of the 8 samples its index lists)" in errors[0]
    assert errors[0].count("shard-000002.tar") == 1  # named once, not nested by each pipeline stage


def _config(**flags):
    base = {
        "model.backbone": "byol_tiny_cnn", "model.projector_hidden": 32, "model.projector_out": 16,
        "model.predictor_hidden": 32, "data.image_size": 16, "data.batch_size": 8, "data.num_workers": 0,
        "train.epochs": 2, "train.log_every": 1, "train.checkpoint_every": 1000, "train.device": "cpu",
        "train.precision": "fp32", "optim.name": "sgd", "optim.base_lr": 0.2, **flags,
    }
    return resolve_config({"recipe": to_dict(load_recipe("natural_rgb"))}, "test", base, [])


def test_a_stream_resumed_mid_epoch_reproduces_the_uninterrupted_run(shards, tmp_path, one_torch_thread):
    cfg = _config()
    stream = lambda: build_shard_stream(shards, seed=cfg.train.seed, shuffle_buffer=10)  # noqa: E731
    pretrain(cfg, stream(), tmp_path / "whole", progress=False)
    pretrain(cfg, stream(), tmp_path / "paused", progress=False, stop_after_steps=6)  # epoch 1, batch 2 of 4
    assert len(losses(tmp_path / "paused")) == 6
    pretrain(cfg, stream(), tmp_path / "paused", progress=False, resume=True)
    whole, resumed = losses(tmp_path / "whole"), losses(tmp_path / "paused")
    assert len(whole) == 8
    np.testing.assert_allclose(resumed, whole, rtol=1e-6)


WORKER = r'''
import json, os, sys
import torch.distributed as dist
from byol_transfer.augment.recipes import load_recipe
from byol_transfer.config import to_dict
from byol_transfer.data.shards import ShardStream, resolve_shards
from byol_transfer.train.loop import pretrain
from byol_transfer.train.run_config import resolve_config

shards, out = sys.argv[1], sys.argv[2]
dist.init_process_group("gloo")
seen = []

class Recording(ShardStream):
    """Notes (epoch, key) of every sample it serves, after the shuffle buffer: what training consumed."""
    def __iter__(self):
        for sample in super().__iter__():
            seen.append([self.epoch, sample["meta"]["key"]])
            yield sample

flags = {
    "model.backbone": "byol_tiny_cnn", "model.projector_hidden": 32, "model.projector_out": 16,
    "model.predictor_hidden": 32, "data.image_size": 16, "data.batch_size": 8, "data.num_workers": 0,
    "train.epochs": 2, "train.log_every": 1, "train.checkpoint_every": 1000, "train.device": "cpu",
    "train.precision": "fp32", "optim.name": "sgd", "optim.base_lr": 0.2,
}
cfg = resolve_config({"recipe": to_dict(load_recipe("natural_rgb"))}, "test", flags, [])
pretrain(cfg, Recording(resolve_shards(shards), seed=0, shuffle_buffer=6), out, progress=False)
everyone = [None] * dist.get_world_size()
dist.all_gather_object(everyone, seen)
if dist.get_rank() == 0:
    with open(os.path.join(out, "seen.json"), "w") as f:
        json.dump(everyone, f)
dist.destroy_process_group()
'''


def test_two_ranks_see_every_sample_of_each_epoch_exactly_once(shards, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
         str(shards), str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    per_rank = json.loads((tmp_path / "run" / "seen.json").read_text())
    every_key = sorted(f"{i:09d}" for i in range(32))
    for epoch in (0, 1):
        keys = [[k for e, k in rank if e == epoch] for rank in per_rank]
        assert [len(k) for k in keys] == [16, 16]  # 4 steps × local batch 4 on each rank
        assert not set(keys[0]) & set(keys[1])
        assert sorted(keys[0] + keys[1]) == every_key
    epoch0 = [k for e, k in per_rank[0] if e == 0]
    epoch1 = [k for e, k in per_rank[0] if e == 1]
    assert epoch0 != epoch1  # each epoch is shuffled anew
