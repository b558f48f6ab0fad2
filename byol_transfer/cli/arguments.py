"""Command-line parsing that fails in one line, and typed number flags with declared ranges.

Every numeric flag of every command is parsed here, so a bad number reads the same everywhere:
``byol-transfer segment: error: argument --batch-size: must be >= 1, got 0``. Flags that set a config key
(``pretrain --max-steps`` → ``train.max_steps``) take their bounds from the schema in ``config.py``; the
others declare theirs next to the flag. The range test itself is ``config.range_problem`` (one rule).
"""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable, NoReturn

from ..config import DataConfig, device_problem, field_bounds, range_problem


class ArgumentFailure(Exception):
    """A command line argparse refused: ``prog`` (e.g. ``byol-transfer pretrain``) and the reason."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message


class OneLineParser(argparse.ArgumentParser):
    """argparse without the usage block on errors: one line naming the flag (``--help`` shows usage)."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentFailure(self.prog, message)


def number(kind: type = int, key: str | None = None, **bounds: Any) -> Callable[[str], Any]:
    """An argparse ``type``: parse an int/float and check ``bounds`` (ge/gt/le/lt, as in config.py)."""
    name = "an integer" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {name}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        problem = range_problem(value, bounds)
        if problem:
            raise argparse.ArgumentTypeError(f"{key!r} {problem}" if key else problem)
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def config_number(cls: type, section: str, field: str, kind: type = int) -> Callable[[str], Any]:
    """The ``type`` of a flag that sets ``section.field`` of dataclass ``cls``: the schema's bounds."""
    return number(kind, f"{section}.{field}", **field_bounds(cls, field))


def device(text: str) -> str:
    """``--device`` of every command: the same rule as ``train.device``."""
    problem = device_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


# Ranges shared by the flags of the other commands (label-efficiency, segment, predict, stats, preview, prepare).
positive_int = number(int, ge=1)
non_negative_int = number(int, ge=0)
positive_float = number(float, gt=0)
non_negative_float = number(float, ge=0)
probability = number(float, ge=0, le=1)
open_fraction = number(float, gt=0, lt=1)  # a share of a set that must leave something on both sides
label_fraction = number(float, gt=0, le=1)  # of the labelled pool: 1.0 = all of it
image_size = number(int, **field_bounds(DataConfig, "image_size"))  # the pretraining limits
