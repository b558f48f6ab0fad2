"""DDP under torchrun with gloo on CPU: 2 processes vs 1, identical weights across ranks, resume.

The runs use deterministic views (a horizontal vs a vertical flip, p = 1), so that the only difference
between 1 process and 2 is where BatchNorm takes its batch statistics (each rank's half batch on CPU,
where SyncBatchNorm cannot run): the loss trajectories then agree closely, and a missing gradient sync, a
wrong LR scaling or a wrong data shard would show.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from byol_transfer.train.distributed import DistContext, EpochSampler
from tests.conftest import write_image_folder

WORKER = r'''
import json, os, sys, hashlib
import torch, torch.distributed as dist
from byol_transfer.augment.recipes import load_recipe
from byol_transfer.config import to_dict
from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.train.loop import pretrain
from byol_transfer.train.run_config import resolve_config

data, out, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
if distributed:  # created here, so pretrain() leaves it up and the ranks can compare weights afterwards
    dist.init_process_group("gloo")
flags = {
    "model.backbone": "byol_tiny_cnn", "model.projector_hidden": 32, "model.projector_out": 16,
    "model.predictor_hidden": 32, "data.image_size": 16, "data.batch_size": 32, "data.num_workers": 0,
    "train.epochs": 3, "train.log_every": 1, "train.checkpoint_every": 1000, "train.device": "cpu",
    "optim.name": "sgd", "optim.base_lr": 0.5,
}
sets = ["recipe.view1=[{op: horizontal_flip, p: 1.0}]", "recipe.view2=[{op: vertical_flip, p: 1.0}]",
        *extra.get("sets", [])]
cfg = resolve_config({"recipe": to_dict(load_recipe("natural_rgb"))}, "test", flags, sets)
result = pretrain(cfg, ImageFolderDataset(data, 16), out, progress=False,
                  resume=extra.get("resume", False), stop_after_steps=extra.get("stop_after_steps"))

def params_hash(module):
    digest = hashlib.sha256()
    for name, p in sorted(module.named_parameters()):
        digest.update(name.encode() + p.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()

mine = {"online": params_hash(torch.nn.ModuleList([result.model.online_encoder, result.model.online_projector,
                                                   result.model.predictor])),
        "target": params_hash(torch.nn.ModuleList([result.model.target_encoder, result.model.target_projector]))}
everyone = [mine]
if distributed:
    everyone = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, mine)
    dist.destroy_process_group()
if int(os.environ.get("RANK", "0")) == 0:
    with open(os.path.join(out, "ranks.json"), "w") as f:
        json.dump(everyone, f)
'''


def run_worker(tmp_path: Path, data: Path, out: Path, processes: int, **extra) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    if processes == 1:
        command = [sys.executable, str(script)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   str(script)]
    done = subprocess.run([*command, str(data), str(out), json.dumps(extra)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def losses(run: Path) -> np.ndarray:
    with (run / "metrics.csv").open() as f:
        return np.array([float(r["loss"]) for r in csv.DictReader(f)])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    data = write_image_folder(tmp / "images", 64, 3, size=16)
    run_worker(tmp, data, tmp / "single", 1)
    run_worker(tmp, data, tmp / "ddp", 2)
    return tmp, data


def test_two_processes_follow_the_single_process_loss_trajectory(runs):
    tmp, _ = runs
    single, ddp = losses(tmp / "single"), losses(tmp / "ddp")
    assert len(single) == len(ddp) == 6  # 3 epochs × 64 images / global batch 32, logged by rank 0 only
    assert single[-1] < single[0] - 0.1  # the trajectory moves, so agreeing with it means something
    # BN normalises over each rank's half batch on CPU: measured up to 5 % apart after 6 steps
    np.testing.assert_allclose(ddp, single, rtol=0.08)


def test_online_and_target_weights_are_identical_on_every_rank(runs):
    tmp, _ = runs
    ranks = json.loads((tmp / "ddp" / "ranks.json").read_text())
    assert len(ranks) == 2
    assert ranks[0]["online"] == ranks[1]["online"]
    assert ranks[0]["target"] == ranks[1]["target"]
    assert ranks[0]["online"] != ranks[0]["target"]


def test_a_two_process_run_resumes_where_it_paused(runs):
    tmp, data = runs
    run_worker(tmp, data, tmp / "paused", 2, stop_after_steps=3)
    assert len(losses(tmp / "paused")) == 3
    run_worker(tmp, data, tmp / "paused", 2, resume=True)
    np.testing.assert_allclose(losses(tmp / "paused"), losses(tmp / "ddp"), rtol=1e-5)
    ranks = json.loads((tmp / "paused" / "ranks.json").read_text())
    assert ranks[0]["online"] == ranks[1]["online"]
    assert torch.load(tmp / "paused" / "last.ckpt", weights_only=True)["world_size"] == 2


def test_local_crops_train_under_ddp_with_identical_weights_on_every_rank(runs):
    tmp, data = runs
    run_worker(tmp, data, tmp / "multicrop", 2,
               sets=["recipe.local_crops.number=2", "recipe.local_crops.size=8"])
    ranks = json.loads((tmp / "multicrop" / "ranks.json").read_text())
    assert ranks[0]["online"] == ranks[1]["online"] and ranks[0]["target"] == ranks[1]["target"]
    multicrop = losses(tmp / "multicrop")
    assert len(multicrop) == 6 and np.isfinite(multicrop).all()
    assert not np.allclose(multicrop, losses(tmp / "ddp"))  # the local crops are in the loss


def test_ranks_share_each_global_batch_exactly():
    one = list(EpochSampler(40, seed=3, global_batch=8))
    shards = [list(EpochSampler(40, seed=3, global_batch=8, ctx=DistContext(r, 2))) for r in range(2)]
    for i in range(5):  # global batch i on one process == rank 0's half + rank 1's half
        assert one[8 * i : 8 * i + 8] == shards[0][4 * i : 4 * i + 4] + shards[1][4 * i : 4 * i + 4]
    # mid-epoch positions (resume) shard the rest the same way
    sampler = EpochSampler(40, seed=3, global_batch=8, ctx=DistContext(1, 2))
    sampler.set_position(0, 16)
    assert list(sampler) == shards[1][8:]


def test_a_global_batch_that_does_not_split_is_a_clear_error():
    from byol_transfer.errors import UserError

    with pytest.raises(UserError, match="divisible"):
        EpochSampler(40, seed=0, global_batch=9, ctx=DistContext(0, 2))
