"""The bad-input policy: fail fast naming the file, or (``skip_bad``) skip it and count it in the log.

Most bad files are caught by a header scan when a dataset is built. What a header cannot show (a JPEG
corrupt in its middle, mask values outside the declared mapping) surfaces when the sample is read; then
the error still names the file, and with ``skip_bad`` the dataset logs it and serves the next sample, so
an epoch never dies on one file.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ..errors import UserError

log = logging.getLogger(__name__)

# How many neighbours a skip_bad dataset tries before giving up: a folder of mostly broken files is a
# user mistake to report, not something to paper over.
MAX_CONSECUTIVE_BAD = 16


class BadFileError(UserError):
    """A file that could not be read; the message names it.

    Raised in a DataLoader worker, PyTorch re-creates the exception in the main process with a message of
    the form "Caught BadFileError in DataLoader worker process 0.\\nOriginal Traceback ...". The CLI
    prints ``str(error)`` as one line, so the constructor keeps only the original message, which names
    the file.
    """

    def __init__(self, message: str) -> None:
        if message.startswith("Caught ") and "Original Traceback" in message:
            last = message.strip().splitlines()[-1]
            message = last.split(": ", 1)[1] if ": " in last else last
        super().__init__(message)


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def read_with_fallback(read: Callable[[int], Any], index: int, size: int, skip_bad: bool) -> Any:
    """``read(index)``; with ``skip_bad``, on a bad file log it and read the next index instead."""
    if not skip_bad:
        return read(index)
    for offset in range(min(MAX_CONSECUTIVE_BAD, size)):
        try:
            return read((index + offset) % size)
        except UserError as e:
            log.warning("skipped while reading: %s", e)
    raise BadFileError(
        f"{MAX_CONSECUTIVE_BAD} consecutive unreadable samples from index {index}; check the data folder"
    )


class SkipLog:
    """Counts files dropped at construction, and logs one summary line plus the first few names."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.reasons: list[str] = []

    def add(self, error: UserError) -> None:
        self.reasons.append(str(error))

    def __len__(self) -> int:
        return len(self.reasons)

    def report(self) -> None:
        if not self.reasons:
            return
        log.warning("skipped %d bad %s (--skip-bad):", len(self.reasons), self.what)
        for reason in self.reasons[:5]:
            log.warning("  %s", reason)
        if len(self.reasons) > 5:
            log.warning("  ... and %d more", len(self.reasons) - 5)
