"""benchmarks/record_run.py writes run.json (command, commit, machine, threads, torch, wall time) for any command.

One run (importing torch in the wrapper takes seconds) of a command that checks every path at once: it
reads the thread setting, takes time, writes a run.json of its own and fails.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]


def test_records_the_run_keeps_the_commands_own_log_and_passes_its_status_on(tmp_path: Path):
    own = tmp_path / "run.json"
    script = (f"import os, time; time.sleep(0.3); print(os.environ['OMP_NUM_THREADS']); "
              f"open({str(own)!r}, 'w').write('{{\"rows\": 12}}'); raise SystemExit(3)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "record_run.py"), "--out", str(tmp_path),
                             "--threads", "1", "--", sys.executable, "-c", script], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 3, result.stderr  # the command's status, passed on
    assert result.stdout.strip() == "1"  # the command got the thread setting
    log = json.loads(own.read_text())
    assert shlex.split(log["command"]) == [sys.executable, "-c", script]  # pasteable into a shell
    assert len(log["commit"]) == 40 and isinstance(log["dirty"], bool)
    assert log["wall_s"] >= 0.3 and log["returncode"] == 3
    assert log["threads"] == {"torch": 1, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert log["torch"] == torch.__version__
    assert log["machine"]["cpu_model"] and "cpu_key_flags" in log["machine"]
    assert log["command_log"] == {"rows": 12}  # what the command wrote itself is kept
