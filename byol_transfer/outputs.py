"""Output paths: refuse an unusable ``--out`` before any work, and leave nothing behind when a command fails.

Every command that writes goes through :func:`output_guard` (the CLI applies it from one table, see
``cli/__init__.py``): the path is checked first — an existing file where a folder is wanted, a folder where
a file is wanted, a parent that is a file, a read-only or full file system, a folder the user may not
write to — so the user gets one line naming the path and the reason before any data are decoded. Folders
are still created only when a command writes its first result; if the command then fails, the folders it
created are removed again as long as they hold nothing but its own temp files, so a refused command
leaves no empty output folder. Input data are never touched: only folders that did not exist when the
command started are ever removed. ``OSError`` s raised while writing (disk full, read-only, permission)
become a ``UserError`` naming the path and the reason.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Literal

from .errors import UserError

# What a user is told for the OSErrors a write can meet; anything else stays a bug with its traceback.
WRITE_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "exists already (a file where a folder is needed)",
    errno.EISDIR: "is a folder, not a file",
}

# atomic_path's temp files: ".NAME.<random>.tmp" beside NAME (see io.py)
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[^.]+\.tmp$")

Kind = Literal["dir", "file"]


def check_output_dir(path: str | Path, flag: str = "--out") -> None:
    """Refuse a folder path the command could not write into; creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: is a file, not a folder")
    _check_writable(path if path.is_dir() else _existing_ancestor(path, flag), path, flag)


def check_output_file(path: str | Path, flag: str = "--out") -> None:
    """Refuse a file path the command could not write (a folder, a file as parent, no permission)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder; give a file name")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is a file, not a folder")
    _check_writable(parent if parent.is_dir() else _existing_ancestor(parent, flag), path, flag)


def write_error(error: OSError, out: str | Path | None = None, flag: str = "--out") -> UserError | None:
    """A one-line ``UserError`` for an OSError met while writing, or None for other errors (bugs)."""
    reason = WRITE_ERRORS.get(error.errno or -1)
    if reason is None:
        return None
    if error.filename:
        name = _user_path(error.filename)
        # a permission error on an input file is no write error: say "cannot open" there
        writing = error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) or out is None or _inside(name, out)
        return UserError(f"{'cannot write' if writing else 'cannot open'} {name}: {reason}")
    if out is not None:
        return UserError(f"{flag} {out}: cannot write: {reason}")
    return UserError(f"cannot write: {reason}")


@contextmanager
def output_guard(path: str | Path, kind: Kind = "dir", flag: str = "--out") -> Iterator[None]:
    """Check ``path`` now; if the body fails, remove the folders it created and explain write errors."""
    path = Path(path)
    (check_output_dir if kind == "dir" else check_output_file)(path, flag)
    created = _first_missing(path if kind == "dir" else path.parent)
    try:
        yield
    except BaseException as e:
        if created is not None:
            remove_if_unused(created)
        if isinstance(e, OSError):
            friendly = write_error(e, path, flag)
            if friendly is not None:
                raise friendly from None
        raise


def remove_if_unused(folder: Path) -> bool:
    """Remove ``folder`` if it holds nothing but empty folders and temp files; True when removed."""
    if not folder.is_dir() or folder.is_symlink():
        return False
    for _, _, names in os.walk(folder):
        if any(not _TEMP_NAME.match(name) for name in names):
            return False
    shutil.rmtree(folder, ignore_errors=True)
    return not folder.exists()


def _check_writable(folder: Path, path: Path, flag: str) -> None:
    where = "" if folder == path else f" ({folder})"
    try:
        stats = os.statvfs(folder)
    except OSError:
        stats = None
    if stats is not None and stats.f_flag & os.ST_RDONLY:
        raise UserError(f"{flag} {path}: read-only file system{where}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: not writable, permission denied{where}")
    if stats is not None and stats.f_blocks > 0 and stats.f_bavail == 0:
        raise UserError(f"{flag} {path}: no space left on the device{where}")
    # root passes every permission check; a folder such as /proc still refuses new entries
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".byol-transfer-write-check.", dir=folder))
    except OSError as e:
        reason = WRITE_ERRORS.get(e.errno or -1, "cannot create files there")
        raise UserError(f"{flag} {path}: {reason}{where}") from None


def _existing_ancestor(path: Path, flag: str) -> Path:
    """The nearest existing parent of a path that does not exist yet; a file there is an error."""
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{flag} {path}: {parent} is a file, not a folder")
            return parent
    return Path("/")


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s chain that does not exist yet (what a write would create)."""
    missing = None
    for candidate in (folder.absolute(), *folder.absolute().parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _inside(name: str, out: str | Path) -> bool:
    out = Path(out).absolute()
    target = Path(name).absolute()
    return target == out or out in target.parents or target.parent == out.parent


def _user_path(filename: str | bytes | os.PathLike) -> str:
    """The path the user asked for, not atomic_path's ".NAME.XXXX.tmp" beside it."""
    path = Path(os.fsdecode(filename))
    match = _TEMP_NAME.match(path.name)
    return str(path.with_name(match.group("name"))) if match else str(path)
