"""Shared helpers for the reliability drill: run a command as a user would, and check how it failed.

Every refused command must: exit 2 (1 for divergence), print exactly one non-empty line on stderr that
names the culprit, print no traceback, and leave no new files or folders behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from byol_transfer.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        """stderr lines other than log lines (``byol-transfer: ...`` warnings printed along the way)."""
        return [line for line in self.err.splitlines() if line.strip() and not line.startswith("byol-transfer: ")]


@pytest.fixture
def run_cli(capsys):
    """``run_cli("pretrain", "--data", ...)`` → CliResult (in-process, ``-q`` so only warnings/errors print)."""

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        code = main(["-q", *map(str, args)])
        out, err = capsys.readouterr()
        return CliResult(int(code), out, err)

    return run


def assert_clean_error(result: CliResult, *fragments: str, code: int = 2) -> str:
    """Exit ``code``, one error line on stderr containing every (non-empty) fragment, no traceback, nothing
    else on stderr but log lines; returns the error line."""
    assert fragments and all(fragments), "a clean-error check needs at least one non-empty fragment"
    assert "Traceback" not in result.err, result.err
    assert result.code == code, (result.code, result.err)
    lines = result.error_lines
    assert len(lines) == 1, result.err
    assert lines[0].startswith("byol-transfer "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def snapshot(root: Path) -> set[str]:
    """Every path under ``root`` (files and folders), relative; compare before/after a refused command."""
    root = Path(root)
    if not root.exists():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def tiny_pretrain_args(data: Path, out: Path, *extra: object) -> list[str]:
    """A pretrain command line that runs in a second or two on byol_tiny_cnn."""
    return ["pretrain", "--config", "natural_rgb", "--data", str(data), "--out", str(out),
            "--backbone", "byol_tiny_cnn", "--image-size", "16", "--batch-size", "8", "--epochs", "1",
            "--set", "model.projector_hidden=32", "--set", "model.predictor_hidden=32",
            "--set", "data.num_workers=0", "--set", "optim.name=adamw", "--set", "optim.base_lr=0.01",
            *map(str, extra)]


@pytest.fixture
def drill():
    """The helpers above for test modules (``--import-mode=importlib`` keeps them from importing this file):
    ``drill.clean_error(result, *fragments)``, ``drill.snapshot(root)``, ``drill.pretrain_args(data, out)``."""
    from types import SimpleNamespace

    return SimpleNamespace(clean_error=assert_clean_error, snapshot=snapshot, pretrain_args=tiny_pretrain_args)


@pytest.fixture(scope="session", autouse=True)
def _command_modules_imported_first():
    """Import every command module before any test monkeypatches a name they import (``from ..data.build
    import build_dataset``): a module first imported under a patch would keep the patched name for the rest
    of the session, and later tests would fail for no reason of their own."""
    from byol_transfer.cli import build_parser

    build_parser()


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any full data scan fail the test: config mistakes must be found before the data are decoded."""

    def decoded(*args, **kwargs):
        raise AssertionError("the data were scanned/decoded before the config mistake was reported")

    for module in ("byol_transfer.cli.pretrain", "byol_transfer.data.build"):
        monkeypatch.setattr(f"{module}.build_dataset", decoded)
