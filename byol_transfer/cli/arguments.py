"""Command-line parsing that fails in one line, and the ranges of flags that set no config key.

A bad number reads the same everywhere: ``byol-transfer segment: error: argument --batch-size: must be
>= 1, got 0``. Flags that set a config key (``pretrain --max-steps`` → ``train.max_steps``) are generated
from each command's flag table with the schema's type and bounds (``config/flags.py``); the few flags
that set no key (``--stop-after-steps``, ``--n`` of preview, ...) use the named ranges below. The range
test itself is ``config.schema.range_problem`` (one rule).
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from ..config import DataConfig, field_bounds
from ..config.flags import device, number

__all__ = ["ArgumentFailure", "OneLineParser", "device", "number", "positive_int", "non_negative_int",
           "positive_float", "non_negative_float", "probability", "open_fraction", "label_fraction", "image_size"]


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


# Ranges shared by the flags of the other commands (label-efficiency, segment, predict, stats, preview, prepare).
positive_int = number(int, ge=1)
non_negative_int = number(int, ge=0)
positive_float = number(float, gt=0)
non_negative_float = number(float, ge=0)
probability = number(float, ge=0, le=1)
open_fraction = number(float, gt=0, lt=1)  # a share of a set that must leave something on both sides
label_fraction = number(float, gt=0, le=1)  # of the labelled pool: 1.0 = all of it
image_size = number(int, **field_bounds(DataConfig, "image_size"))  # the pretraining limits
