"""Atomic file writes: a temp file in the same folder, fsynced, then ``os.replace``, then the folder fsynced.

A crash or a full disk never leaves a half-written checkpoint, export or report behind: until the rename the
old file is untouched, and the fsyncs make sure that after a power cut the new name points at complete
data (without them a journaling filesystem may keep the rename but not the bytes). A write killed before
the rename leaves its temp file (``.NAME.XXXX.tmp``); :func:`remove_stale_temps` clears those at the next
start.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

TEMP_SUFFIX = ".tmp"


def temp_prefix(name: str) -> str:
    """How the temp files of ``name`` begin: ``.NAME.`` (hidden, next to the target)."""
    return f".{name}."


def _fsync(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:  # some platforms (Windows) cannot open a folder; the rename is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it replaces ``path``, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
    # mkstemp makes the file private (0600); a written result gets the permissions any new file gets
    # (0666 less the umask), so shards and exports on shared storage stay readable to others
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    _fsync(path.parent, directory=True)


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it: set and restore at once
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def stale_temps(folder: str | Path, name: str | None = None) -> list[Path]:
    """Temp files of interrupted atomic writes in ``folder`` (of target ``name`` only, if given)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    prefix = temp_prefix(name) if name else "."
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(prefix) and p.name.endswith(TEMP_SUFFIX) and p.is_file())


def remove_stale_temps(folder: str | Path) -> tuple[int, int]:
    """Delete the temp files killed writes left in ``folder``; (files, bytes) removed.

    Only call this where no other process is writing into ``folder`` (e.g. a run folder at start-up).
    """
    count = size = 0
    for path in stale_temps(folder):
        try:
            nbytes = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        count, size = count + 1, size + nbytes
    return count, size
