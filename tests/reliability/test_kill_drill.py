"""Kill drill: SIGKILL a pretraining process while it writes checkpoints, resume, and get the same losses.

A tiny run saves a checkpoint after every step. It is killed at seeded random moments shortly after a
checkpoint temp file appears (i.e. during ``torch.save`` + fsync + rename), three times; after each kill
``last.ckpt`` must load, and the final ``--resume`` must log exactly the losses of an uninterrupted run.
The killed runs are subprocesses, because a kill must hit a real process; the uninterrupted reference and
the final resume run in-process (interpreter start-up is most of a tiny run's time), all with one thread,
so the comparison is bit for bit.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path


import byol_transfer
from byol_transfer.train.checkpoint import load_checkpoint
from tests.conftest import write_image_folder

from .conftest import tiny_pretrain_args

SEED = 16
KILLS = 3
# Wider MLPs than the other tiny runs: a checkpoint of a few MB takes long enough to write that the kills
# land inside the write; a save at every step and a metrics row at every step.
DRILL = ["--epochs", "2", "--set", "model.projector_hidden=512", "--set", "model.predictor_hidden=512",
         "--set", "train.checkpoint_every=1", "--set", "train.log_every=1"]


def command(data: Path, run: Path, *extra: str) -> list[str]:
    """The subprocess command line; ``[4:]`` of it is what ``run_cli`` takes in-process."""
    return [sys.executable, "-m", "byol_transfer", "-q", *tiny_pretrain_args(data, run, *DRILL, *extra)]


def environment() -> dict[str, str]:
    root = str(Path(byol_transfer.__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1"}


def losses(run: Path) -> list[tuple[str, str]]:
    with (run / "metrics.csv").open() as f:
        return [(row["step"], row["loss"]) for row in csv.DictReader(f)]


def kill_during_a_write(cmd: list[str], run: Path, rng: random.Random) -> bool:
    """Start ``cmd``; SIGKILL it soon after its n-th checkpoint temp file appears. False if it finished first."""
    wanted = rng.randint(2, 3)  # the 2nd or 3rd save of this start: each killed start gets somewhere
    process = subprocess.Popen(cmd, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: set[str] = set()
    try:
        while process.poll() is None:
            temps = {p for p in os.listdir(run) if p.startswith(".last.ckpt.") and p.endswith(".tmp")} \
                if run.is_dir() else set()
            seen |= temps
            if temps and len(seen) >= wanted:
                time.sleep(rng.uniform(0.0, 0.004))  # somewhere inside torch.save / fsync / rename
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.0005)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigkill_during_checkpoint_writes_then_resume_reproduces_the_losses(run_cli, one_torch_thread, tmp_path):
    data = write_image_folder(tmp_path / "images", 32, 3)  # 8 steps of batch 8
    reference = tmp_path / "uninterrupted"
    assert run_cli(*command(data, reference)[4:]).code == 0

    run = tmp_path / "killed"
    rng = random.Random(SEED)
    steps_at_kill = []
    for _ in range(KILLS):
        if not kill_during_a_write(command(data, run, "--resume"), run, rng):
            break  # finished before the kill: nothing left to interrupt
        interrupted = [p for p in os.listdir(run) if p.endswith(".tmp")]  # a write the kill cut short
        if (run / "last.ckpt").exists():
            steps_at_kill.append((load_checkpoint(run)["step"], interrupted))  # loadable after every kill
    assert steps_at_kill, "no kill landed while the run was saving"
    assert run_cli(*command(data, run, "--resume")[4:]).code == 0
    assert load_checkpoint(run)["step"] == load_checkpoint(reference)["step"] == 8
    assert losses(run) == losses(reference), steps_at_kill
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]
