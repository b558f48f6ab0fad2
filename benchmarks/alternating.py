"""Timing that is fair on a noisy machine: variants alternate round by round, medians are compared."""

from __future__ import annotations

import time
from typing import Callable


def alternate_rounds(
    steps: dict[str, Callable[[], None]], rounds: int, steps_per_round: int, images_per_step: int
) -> dict[str, list[float]]:
    """img/s of every variant in every round; round r runs each variant once, in turn, so that a slow
    stretch of the machine hits all variants alike rather than whichever ran then."""
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                step()
            rates[name].append(steps_per_round * images_per_step / (time.perf_counter() - start))
    return rates
