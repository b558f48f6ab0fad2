"""Spend a fixed wall-clock budget well: plan the number of steps so that every schedule ends with it.

BYOL's schedules (linear warmup, cosine LR, τ → 1) are defined over the total number of steps K. A user
with "25 minutes" does not know K: it depends on the machine, the model and the data. With
``train.time_budget_s`` the loop starts with K = the cap (``train.epochs`` × steps per epoch, and
``train.max_steps``), times a few steps after a warm-up (the first steps pay for kernel selection and
allocator growth), and then fixes

    K = steps so far + (budget − time so far) × (1 − margin) / seconds per step,

capped by the same limits. From then on the LR schedule and τ use that K, so both end, together, when the
budget does. The plan is stored in the checkpoint: a resumed run keeps it rather than re-planning on a
machine that may be busier or idler. The budget counts the training loop (steps, logging, checkpoints and
monitor checks), from its first step; model building and reading the data come before it. What was planned
and what it took are written to ``budget.json`` in the run folder and logged.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)

clock: Callable[[], float] = time.monotonic  # the planner's clock (a fake one in tests)

WARMUP_STEPS = 3  # not timed: the first steps select kernels and grow the allocator
MEASURE_STEPS = 10  # timed; ~1% of a 25-minute resnet18 run on 2 cores
MARGIN = 0.02  # of the remaining time, for checkpoint writes and monitor checks the measurement may miss


@dataclass
class BudgetPlan:
    budget_s: float
    planned_steps: int | None = None  # None until measured
    seconds_per_step: float | None = None
    measured_steps: tuple[int, int] | None = None  # the steps timed (from, to)
    planned_at_s: float | None = None  # loop time when the plan was made

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BudgetPlan":
        data = dict(data)
        if data.get("measured_steps") is not None:
            data["measured_steps"] = tuple(data["measured_steps"])
        return cls(**data)


class BudgetPlanner:
    """Times steps after a warm-up, then fixes the total: ``after_step(step)`` → the new K once, else None."""

    def __init__(self, budget_s: float, cap_steps: int, start_step: int = 0, plan: BudgetPlan | None = None,
                 elapsed_before_s: float = 0.0) -> None:
        self.plan = plan or BudgetPlan(budget_s)
        self.cap_steps = cap_steps
        self.started = clock() - elapsed_before_s  # a resumed run continues the time already spent
        self.start_step = start_step
        self._timing_from: tuple[int, float] | None = None

    @property
    def planned(self) -> bool:
        return self.plan.planned_steps is not None

    def elapsed(self) -> float:
        return clock() - self.started

    def after_step(self, step: int) -> int | None:
        """Call after optimiser step ``step`` (the count of steps done); reads the clock once per step, so
        that a fake clock in tests measures the whole run."""
        now = clock()
        if self.planned:
            return None
        if step == self.start_step + WARMUP_STEPS:
            self._timing_from = (step, now)
            return None
        if self._timing_from is None or step < self._timing_from[0] + MEASURE_STEPS:
            return None
        first, began = self._timing_from
        per_step = (now - began) / (step - first)
        elapsed = now - self.started
        remaining = max(0.0, self.plan.budget_s - elapsed) * (1 - MARGIN)
        planned = step + int(math.floor(remaining / per_step)) if per_step > 0 else self.cap_steps
        if planned > self.cap_steps:
            log.info("time budget: %.0f s would allow %d steps; capped at %d (train.epochs / train.max_steps)",
                     self.plan.budget_s, planned, self.cap_steps)
        planned = max(step, min(planned, self.cap_steps))
        if planned == step:
            log.warning("time budget %.0f s is used up after %d steps (%.2f s per step): the schedule ends now",
                        self.plan.budget_s, step, per_step)
        self.plan.planned_steps, self.plan.seconds_per_step = planned, per_step
        self.plan.measured_steps, self.plan.planned_at_s = (first, step), elapsed
        log.info("time budget %.0f s: %.3f s per step over steps %d-%d → %d steps in all (warmup, LR and τ "
                 "schedules end there)", self.plan.budget_s, per_step, first, step, planned)
        return planned

    def report(self, steps_done: int) -> dict[str, Any]:
        """Planned vs actual, for budget.json and the log."""
        actual = self.elapsed()
        planned_wall = None
        if self.planned:  # the loop time the plan predicted for its last step
            planned_wall = self.plan.planned_at_s + \
                (self.plan.planned_steps - self.plan.measured_steps[1]) * self.plan.seconds_per_step
        return {**self.plan.to_dict(), "steps_done": steps_done, "planned_wall_s": planned_wall,
                "actual_wall_s": actual}


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str) -> float:
    """``25m``, ``1h30m``, ``90s``, ``1500`` (seconds) → seconds; for ``--time-budget``."""
    import argparse

    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        match = _DURATION.fullmatch(text)
        if not text or not match or not any(match.groups()):
            raise argparse.ArgumentTypeError(f"expected a duration such as 25m, 1h30m, 90s or 1500, got {text!r}")
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = 3600 * h + 60 * m + s
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive duration, got {text!r}")
    return seconds
