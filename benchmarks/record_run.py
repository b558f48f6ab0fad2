"""Run a command and write OUT/run.json: what was run, from which commit, on what machine, for how long.

    python benchmarks/record_run.py --out docs/results/eurosat_ms [--threads 2] -- \\
        byol-transfer label-efficiency ... --out docs/results/eurosat_ms

Every published experiment folder (docs/results/NAME/) needs these facts next to its results.csv, so a
reader can tell whether two figures are comparable: the exact command, the commit (and whether the
tree had uncommitted changes), the machine (byol_transfer.machine.describe_machine: CPU model and flags,
GPU, versions), the thread settings, the torch version and the wall time. The benchmark scripts that
write their own run.json (end_to_end, data_throughput, gpu_suite) keep doing so; this is for any other
command. If the command itself writes OUT/run.json, its content is kept under ``command_log``.
The command's exit status is passed on; run.json is written either way (with ``returncode``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def git_commit(repo: Path = REPO) -> dict:
    """``{"commit": sha or None, "dirty": bool or None}`` (None outside a git checkout)."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def record(command: list[str], out: Path, threads: int | None = None) -> int:
    """Run ``command``, write ``out/run.json``; returns the command's exit status."""
    env = dict(os.environ)
    if threads is not None:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
        os.environ.update({name: str(threads) for name in THREAD_VARIABLES})  # torch below reads them
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "run.json"
    started_wall, started = time.time(), time.perf_counter()
    started_utc = datetime.now(timezone.utc).isoformat(timespec="seconds")
    returncode = subprocess.run(command, env=env).returncode
    wall_s = time.perf_counter() - started

    import torch  # after the thread variables are set, so torch_threads is what the command got

    sys.path.insert(0, str(REPO))
    from byol_transfer.io import atomic_write_text
    from byol_transfer.machine import describe_machine

    if threads is not None:
        torch.set_num_threads(threads)
    machine = describe_machine("timm", "torchvision", "scikit-learn", "segmentation-models-pytorch")
    machine.pop("command", None)  # that would be this wrapper's own argv
    own_log = None
    if log_path.is_file() and log_path.stat().st_mtime >= started_wall:  # the command wrote one itself
        try:
            own_log = json.loads(log_path.read_text())
        except json.JSONDecodeError:
            own_log = log_path.read_text()
    log = {
        "command": shlex.join(command),
        "cwd": str(Path.cwd()),
        **git_commit(),
        "started_utc": started_utc,
        "wall_s": round(wall_s, 3),
        "returncode": returncode,
        "threads": {"torch": torch.get_num_threads(), **{n: env.get(n) for n in THREAD_VARIABLES}},
        "torch": torch.__version__,
        "machine": machine,
    }
    if own_log is not None:
        log["command_log"] = own_log
    atomic_write_text(log_path, json.dumps(log, indent=2) + "\n")
    return returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     usage="%(prog)s --out DIR [--threads N] -- COMMAND [ARG ...]")
    parser.add_argument("--out", type=Path, required=True, help="folder for run.json (created)")
    parser.add_argument("--threads", type=int, help="set OMP_NUM_THREADS and MKL_NUM_THREADS for the command")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    return record(command, args.out, args.threads)


if __name__ == "__main__":
    sys.exit(main())
