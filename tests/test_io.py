"""Atomic writes: results get the permissions of any new file, not mkstemp's private 0600."""

import os
import stat

from byol_transfer.io import atomic_write_text


def test_atomic_writes_respect_the_umask(tmp_path):
    before = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.txt", "x")
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*.tmp"))
