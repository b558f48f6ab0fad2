"""Schemas assembled from parts that live on different levels.

A sweep's settings hold a section per evaluator, and each evaluator's settings class lives with the
evaluator (``transfer/evaluators/``), above ``config/``. Rather than copy those classes down here (their
defaults would then be written twice), the transfer layer assembles the command's schema from the static
sections below (``config/sweep.py``) and its registry's settings classes, with these two functions.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable


def section_of(name: str, parts: Iterable[tuple[str, type]]) -> type:
    """A dataclass with one field per ``(key, settings class)``, each defaulting to that class's defaults."""
    return dataclasses.make_dataclass(
        name, [(key, cls, dataclasses.field(default_factory=cls)) for key, cls in parts])


def with_sections(base: type, **sections: type) -> type:
    """``base`` plus one field per section (a dataclass type), defaulting to the section's defaults."""
    fields = [(key, cls, dataclasses.field(default_factory=cls)) for key, cls in sections.items()]
    return dataclasses.make_dataclass(base.__name__, fields, bases=(base,))
