"""Per-sample work runs on one thread.

Decoding and resizing one small image gains nothing from intra-op parallelism, and on a busy 2-core
machine torch's thread pool makes a 3 ms antialiased resize take 90 ms (threads wait on cores other
processes hold). DataLoader workers already run single-threaded; loops that read a whole dataset in the
main process (caching, statistics) use this.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def single_threaded() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
