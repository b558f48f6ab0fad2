"""Shared test set-up: offline hubs, deterministic torch, and the ``realdata`` marker.

Tests marked ``realdata`` read ../shared/data (or $BYOL_TRANSFER_SHARED_DATA) and are skipped when it
is absent, so a user's fresh clone still passes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BYOL_TRANSFER_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real data folder {SHARED_DATA} is absent")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture
def shared_data() -> Path:
    """The read-only real datasets (tests using it must also be marked ``realdata``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA
