"""``index.json`` beside the shards, and ``--data`` specs that name shards.

The index lists every shard with its sample count and size, the total, band names, dtype, channel count,
the image shape (when fixed), classes, and the source the shards were packed from. It is written last (and
atomically) by :func:`write_shards`, so a folder with an index holds complete shards. A stream takes its
epoch length from it: ``steps per epoch = total // global batch``.

Specs (``pretrain --data``):

- a folder holding ``index.json`` (``DIR`` or ``DIR/``), local or a URL ending in ``/``;
- a brace pattern or one ``.tar``, local or a URL: ``DIR/shard-{000000..000123}.tar``. The index is read
  from the pattern's folder (``DIR/index.json``) and the epoch counts the samples of the listed shards only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError
from ...io import atomic_write_text
from ..remote import is_url, open_url

INDEX_NAME = "index.json"
SHARD_PATTERN = "shard-{:06d}.tar"
FORMAT = "byol-transfer shards v1"


@dataclass
class ShardIndex:
    shards: list[dict[str, Any]]  # {"name": "shard-000000.tar", "samples": int, "bytes": int}
    total: int
    channels: int
    dtype: str
    band_names: list[str] = field(default_factory=list)
    shape: list[int] | None = None  # C, H, W when every image has it, else None
    classes: list[str] | None = None
    has_masks: bool = False
    source: str = ""  # the --data the shards were packed from
    split: str = ""  # which split of the source was packed
    layout: str = ""  # the source layout (see data/build.py)
    format: str = FORMAT

    def counts(self) -> dict[str, int]:
        return {s["name"]: int(s["samples"]) for s in self.shards}


def write_index(index: ShardIndex, folder: str | Path) -> Path:
    path = Path(folder) / INDEX_NAME
    atomic_write_text(path, json.dumps(asdict(index), indent=2) + "\n")
    return path


def read_index(where: str | Path) -> ShardIndex:
    """The index of a shard folder (a local folder or index.json path, or a URL)."""
    text_where = str(where)
    if is_url(text_where):
        url = text_where if text_where.endswith(".json") else text_where.rstrip("/") + "/" + INDEX_NAME
        with open_url(url) as f:
            text = f.read().decode()
        where = url
    else:
        path = Path(where)
        if path.is_dir():
            path = path / INDEX_NAME
        if not path.is_file():
            raise UserError(f"{path}: no shard index (write shards with `byol-transfer prepare shards`)")
        text, where = path.read_text(), path
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
        return ShardIndex(**data)
    except (ValueError, TypeError) as e:
        raise UserError(f"{where}: not a shard index ({e})") from None


@dataclass(frozen=True)
class ShardSource:
    """What a stream reads: shard URLs (local paths or URLs), their sample counts, and the index."""

    urls: list[str]
    counts: list[int]
    index: ShardIndex
    folder: str  # where index.json is (a local folder or a URL)

    @property
    def total(self) -> int:
        return sum(self.counts)


def is_shard_spec(spec: str | Path) -> bool:
    """Whether ``--data`` names shards: a folder with index.json, a .tar / brace pattern, or a URL folder."""
    text = str(spec)
    if text.endswith(".tar") or ("{" in text and ".tar" in text):
        return True
    if is_url(text):
        return text.endswith("/") or text.endswith(INDEX_NAME)
    return (Path(text) / INDEX_NAME).is_file() or (text.endswith(INDEX_NAME) and Path(text).is_file())


def _folder_of(text: str) -> str:
    return text.rsplit("/", 1)[0] if "/" in text else "."


def resolve_shards(spec: str | Path) -> ShardSource:
    """A spec (see the module docstring) → the shard URLs and sample counts of one epoch."""
    from braceexpand import braceexpand  # a webdataset dependency

    text = str(spec)
    if text.endswith(INDEX_NAME):
        text = text[: -len(INDEX_NAME)]
    if text.endswith(".tar") or "{" in text:
        folder = _folder_of(text)
        index = read_index(folder)
        names = list(braceexpand(text))
        known = index.counts()
        missing = [n for n in names if n.rsplit("/", 1)[-1] not in known]
        if missing:
            raise UserError(f"{missing[0]}: not listed in {folder}/{INDEX_NAME} ({len(missing)} shard(s) unknown)")
        counts = [known[n.rsplit("/", 1)[-1]] for n in names]
        urls = names
    else:
        folder = text.rstrip("/") if is_url(text) else str(Path(text))
        index = read_index(folder)
        urls = [f"{folder}/{s['name']}" for s in index.shards]
        counts = [int(s["samples"]) for s in index.shards]
        if not is_url(folder):
            absent = [u for u in urls if not Path(u).is_file()]
            if absent:
                raise UserError(f"{absent[0]}: listed in {folder}/{INDEX_NAME} but missing")
    if not urls:
        raise UserError(f"{spec}: no shards")
    return ShardSource(urls, counts, index, folder)
