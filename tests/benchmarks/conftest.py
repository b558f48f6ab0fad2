"""Run a benchmark script the way a user does (a subprocess, repo root on PYTHONPATH) and read its tables."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_benchmark() -> Callable[..., subprocess.CompletedProcess]:
    def run(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    return run


@pytest.fixture
def read_csv() -> Callable[[Path], list[dict]]:
    def read(path: Path) -> list[dict]:
        with path.open(newline="") as f:
            return list(csv.DictReader(f))

    return read
