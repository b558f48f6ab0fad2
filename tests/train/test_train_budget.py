"""--time-budget: the schedules end when the budget does, the plan survives --resume; timed by a fake clock."""

from __future__ import annotations

import argparse
import csv
import json

import pytest

from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.train import budget
from byol_transfer.train.budget import MEASURE_STEPS, WARMUP_STEPS, parse_duration
from byol_transfer.train.loop import pretrain

from .test_train_loop import tiny_config


class FakeClock:
    """Every call is one more tick of ``step_s`` seconds: steps take a known, machine-independent time."""

    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 1000.0, step_s

    def __call__(self) -> float:
        self.now += self.step_s
        return self.now


def _rows(run):  # noqa: ANN001, ANN202
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture
def data(image_folder):
    return ImageFolderDataset(image_folder(16, 3), 16)


def test_the_budget_plans_the_steps_and_every_schedule_ends_with_it(data, tmp_path, monkeypatch):
    # the planner reads the clock once per step: 1 "second" per step, a 40-second budget
    monkeypatch.setattr(budget, "clock", FakeClock(1.0))
    cfg = tiny_config(**{"train.time_budget_s": 40.0, "train.epochs": 1000, "train.log_every": 1,
                         "optim.final_lr_fraction": 0.0})
    result = pretrain(cfg, data, tmp_path / "run", progress=False)
    report = json.loads((tmp_path / "run" / "budget.json").read_text())
    assert report["seconds_per_step"] == pytest.approx(1.0)
    # steps so far + 98% of the remaining seconds
    measured_to = WARMUP_STEPS + MEASURE_STEPS
    elapsed = report["planned_at_s"]
    assert report["planned_steps"] == measured_to + int((40.0 - elapsed) * 0.98)
    assert result.steps == report["planned_steps"] < 1000 * 4  # far below the epoch cap
    rows = _rows(tmp_path / "run")
    assert float(rows[-1]["lr"]) == pytest.approx(0.0, abs=1e-12)  # LR at its floor at the last step
    assert float(rows[-1]["tau"]) == pytest.approx(1.0, abs=1e-4)  # τ reaches 1 with the schedule
    # one fake second per step: the run ends within the budget plus a small margin, and uses most of it
    assert 40.0 * 0.9 <= report["actual_wall_s"] <= 40.0 + 2


def test_a_resumed_run_keeps_the_stored_plan_even_if_the_machine_got_slower(data, tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "clock", FakeClock(1.0))
    cfg = tiny_config(**{"train.time_budget_s": 60.0, "train.epochs": 1000, "train.checkpoint_every": 1})
    pretrain(cfg, data, tmp_path / "run", progress=False, stop_after_steps=WARMUP_STEPS + MEASURE_STEPS + 2)
    planned = json.loads((tmp_path / "run" / "budget.json").read_text())["planned_steps"]
    monkeypatch.setattr(budget, "clock", FakeClock(5.0))  # five times slower now: a new plan would be shorter
    result = pretrain(cfg, data, tmp_path / "run", progress=False, resume=True)
    assert result.steps == planned


def test_max_steps_stays_a_cap(data, tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "clock", FakeClock(0.01))  # fast: the budget alone would allow thousands
    cfg = tiny_config(**{"train.time_budget_s": 3600.0, "train.epochs": 1000, "train.max_steps": 20})
    assert pretrain(cfg, data, tmp_path / "run", progress=False).steps == 20


@pytest.mark.parametrize("text, seconds", [("25m", 1500), ("1h30m", 5400), ("90s", 90), ("1500", 1500),
                                           ("0.5h", 1800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "25x", "-5", "0", "m"])
def test_bad_durations_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)
