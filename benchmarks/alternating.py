"""Timing that is fair on a noisy machine: variants alternate round by round, medians are compared."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def alternate(rounds_of: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Every variant's rate in every round; round r runs each variant once, in turn, so that a slow
    stretch of the machine hits all variants alike rather than whichever ran then. Each callable runs
    one round of its variant and returns the rate it measured (it decides what is warm-up)."""
    rates: dict[str, list[float]] = {name: [] for name in rounds_of}
    for _ in range(rounds):
        for name, run_round in rounds_of.items():
            rates[name].append(run_round())
    return rates


def alternate_rounds(
    steps: dict[str, Callable[[], None]], rounds: int, steps_per_round: int, images_per_step: int
) -> dict[str, list[float]]:
    """img/s of every variant in every round, timing ``steps_per_round`` calls of its step."""

    def timed(step: Callable[[], None]) -> Callable[[], float]:
        def run_round() -> float:
            start = time.perf_counter()
            for _ in range(steps_per_round):
                step()
            return steps_per_round * images_per_step / (time.perf_counter() - start)

        return run_round

    return alternate({name: timed(step) for name, step in steps.items()}, rounds)


def spread(values: list[float]) -> dict[str, float]:
    """Median and range of one variant's per-round rates (what the reports print)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}
