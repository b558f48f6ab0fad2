"""``RUN_DIR/run.json``: what each start of a pretraining run ran on and which precision it chose.

``train.precision: auto`` decides per machine (train/precision.py), so config.yaml (the *setting*) does not
say which arithmetic produced the weights: this file does, with the CPU (model, bf16 flags), GPU and
versions from ``machine.describe_machine``. A resumed run may continue on another machine, so every start
is appended (with the step it started at) rather than overwriting the first.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..io import atomic_write_text
from ..machine import describe_machine
from ..version import __version__
from .precision import Precision

log = logging.getLogger(__name__)

RUN_RECORD_NAME = "run.json"


def record_start(run_dir: Path, step: int, setting: str, precision: Precision) -> dict:
    """Append this start to ``run_dir/run.json`` (atomic) and return the entry written."""
    path = run_dir / RUN_RECORD_NAME
    starts: list[dict] = []
    if step > 0 and path.is_file():  # resumed: keep the earlier starts (a fresh run replaces a stale file)
        try:
            starts = list(json.loads(path.read_text()).get("starts", []))
        except (OSError, ValueError, AttributeError) as e:  # a record is not worth stopping a run for
            log.warning("%s could not be read (%s); writing a new one", path, e)
    entry = {
        "step": step,
        "precision": {"setting": setting, "chosen": precision.name, "reason": precision.reason},
        "byol_transfer": __version__,
        "machine": describe_machine("timm", "kornia"),
    }
    starts.append(entry)
    atomic_write_text(path, json.dumps({"starts": starts}, indent=2, default=str) + "\n")
    return entry
