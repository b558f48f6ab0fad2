"""What may differ between a checkpoint's config and the config a run is resumed with.

Three kinds of keys:

- the model's shape and the optimiser kind (backbone, channels, MLP widths, optimiser name): the weights
  or the optimiser state cannot be loaded into anything else, so a difference is always refused, in one
  line saying what differs (not a state-dict dump); so is where the weights started (``--init``, its hash
  and band mapping): the checkpoint's weights win on resume, and another init would make config.yaml lie;
- what the training trajectory depends on (batch size, hence the learning-rate scale; learning rate,
  schedule length, EMA, seed, image size, recipe): refused unless the user asks for it
  (``--allow-config-change``), because resuming would silently train a different run;
- everything else (device, workers, logging, checkpoint interval, monitor, data location) may change freely.
"""

from __future__ import annotations

import logging
from typing import Any

from ..config import LocalCropsSpec, to_dict
from ..errors import UserError

log = logging.getLogger(__name__)

# dotted key → how the message names it
FIXED = {
    "model.backbone": "backbone",
    "model.in_chans": "input channels",
    "model.projector_hidden": "projector width",
    "model.projector_out": "projection size",
    "model.predictor_hidden": "predictor width",
    "optim.name": "optimizer",
    # where the weights started: the checkpoint's weights win on resume, so another --init would make
    # config.yaml and the export name a start the run never had
    "model.init": "init weights",
    "model.band_map": "band map",
    "model.init_sha256": "init weights of sha256",
    "model.init_band_mapping": "band mapping",
}
TRAJECTORY_SECTIONS = ("optim", "ema", "recipe")
TRAJECTORY_KEYS = ("data.batch_size", "data.image_size", "train.epochs", "train.max_steps", "train.seed",
                   "train.time_budget_s")  # a changed budget with --allow-config-change keeps the stored plan
# Recipe fields that only describe where it came from.
_RECIPE_PROVENANCE = ("source", "description")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if prefix == "recipe" and key in _RECIPE_PROVENANCE:
            continue
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


# Keys added after checkpoints were written, at the values that mean what those runs did: a checkpoint
# without them is compared as if it had them (resuming a run from before multi-crop is no config change).
ADDED_LATER = _flatten({"recipe": {"local_crops": to_dict(LocalCropsSpec())}})


def config_differences(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Dotted key → (value in the checkpoint, value now), for every leaf that differs."""
    old_flat, new_flat = {**ADDED_LATER, **_flatten(stored)}, _flatten(new)
    return {key: (old_flat.get(key), new_flat.get(key))
            for key in sorted(set(old_flat) | set(new_flat)) if old_flat.get(key) != new_flat.get(key)}


def _is_trajectory(key: str) -> bool:
    return key in TRAJECTORY_KEYS or key.split(".")[0] in TRAJECTORY_SECTIONS


def check_resume_config(stored: dict[str, Any], new: dict[str, Any], checkpoint: str,
                        allow_change: bool) -> dict[str, tuple[Any, Any]]:
    """Refuse what cannot or should not change on resume; returns the accepted trajectory changes."""
    diffs = config_differences(stored, new)
    fixed = [f"{checkpoint} was trained with {FIXED[k]} {old!r}, the config says {new_value!r}"
             for k, (old, new_value) in diffs.items() if k in FIXED]
    if fixed:
        raise UserError("; ".join(fixed) + " (a resumed run keeps its model; start a new --out for another)")
    trajectory = {k: v for k, v in diffs.items() if _is_trajectory(k)}
    if trajectory and not allow_change:
        listed = ", ".join(f"{k} {old!r} -> {new_value!r}" for k, (old, new_value) in trajectory.items())
        raise UserError(f"--resume: {checkpoint} was trained with other settings ({listed}); pass "
                        "--allow-config-change to continue with the new values, or drop the changed flags")
    for key, (old, new_value) in diffs.items():
        if key not in trajectory and key not in FIXED:
            log.info("resuming with %s %r (was %r)", key, new_value, old)
    if trajectory:
        log.warning("resuming with changed settings (--allow-config-change): %s",
                    ", ".join(f"{k} {old!r} -> {n!r}" for k, (old, n) in trajectory.items()))
    return trajectory
