"""The ``report`` schema: report.md and the plot rendered from results.csv files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .schema import bounded


@dataclass
class ReportConfig:
    results: list[str] = bounded(default_factory=list, min_len=1)  # results.csv files to combine
    title: str = "Label efficiency"
    metrics: Union[list[str], None] = None  # in this order; None: all, as they appear
    lower_is_better: list[str] = field(default_factory=list)  # metrics whose smallest value is best (bold)
    plot: bool = True
