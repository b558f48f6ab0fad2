"""Checkpoints: written atomically (temp file + rename), read with ``weights_only=True``.

A checkpoint holds everything a resumed run needs to continue exactly: BYOL module (online and target),
optimiser, scheduler, step, RNG states and the resolved config. No tensor holding NaN or inf is ever
written (:class:`NonFiniteState`), so "the last checkpoint" is always one a run can go on from; a write
that fails (full disk) leaves the previous checkpoint as it was and says so.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from ..io import atomic_path
from ..models.finite import first_non_finite, named_tensors
from ..outputs import WRITE_ERRORS

CHECKPOINT_NAME = "last.ckpt"
FORMAT_VERSION = 1


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class NonFiniteState(Exception):
    """A tensor of the state about to be saved is NaN or inf; nothing was written."""

    def __init__(self, tensor: str) -> None:
        super().__init__(f"{tensor!r} holds NaN or infinite values")
        self.tensor = tensor


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` atomically; refuses non-finite weights or optimiser state (:class:`NonFiniteState`)."""
    path = Path(path)
    bad = first_non_finite(named_tensors({"model": payload.get("model", {}),
                                          "optimizer": payload.get("optimizer", {})}))
    if bad is not None:
        raise NonFiniteState(bad)
    payload = {"format_version": FORMAT_VERSION, **payload}
    previous = "the previous checkpoint is intact" if path.is_file() else "no checkpoint had been completed yet"
    try:
        # through a Python file object: a full disk is then an OSError(ENOSPC), not torch's opaque
        # "unexpected pos" RuntimeError from its own C++ writer
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            torch.save(payload, f)
    except OSError as e:
        reason = WRITE_ERRORS.get(e.errno or -1)
        if reason is None:
            raise
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = f"the disk is full ({reason})"
        # atomic_path removed the partial temp file; the old last.ckpt was never opened for writing
        raise UserError(f"cannot save {path} at step {payload.get('step')}: {reason}; {previous}") from None


def load_checkpoint(path: str | Path, lazy: bool = False) -> dict[str, Any]:
    """Load a checkpoint file (or the ``last.ckpt`` of a run folder) without unpickling code.

    ``lazy=True`` memory-maps the tensors instead of reading them (to look at the config only).
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=lazy)
    except Exception as e:
        raise UserError(f"{path}: not a readable byol-transfer checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or "model" not in payload or "config" not in payload:
        raise UserError(f"{path}: not a byol-transfer checkpoint (no 'model'/'config' entries)")
    _read_legacy_config(payload["config"])
    return payload


def _read_legacy_config(config: Any) -> None:
    """Values older versions stored with another meaning: ``train.max_steps: 0`` meant "no cap" (now null)."""
    train = config.get("train") if isinstance(config, dict) else None
    if isinstance(train, dict) and train.get("max_steps") == 0:
        train["max_steps"] = None
