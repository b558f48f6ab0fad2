"""``write_shards``: pack a map-style dataset into webdataset tar shards, atomically and resumably.

Samples go in dataset order, keyed by their dataset index (``000000042``), into ``shard-000000.tar``,
``shard-000001.tar``, ...; a shard is closed once it holds ``shard_size_bytes`` (webdataset's ShardWriter
rule: the sample that crosses the limit is the last one). Each shard is written to a temp file and renamed
when complete, then recorded in ``.progress.json`` (its sample count, first and last key); ``index.json``
is written last. Re-running the same call keeps every recorded shard whose sample count and keys check
out, deletes what does not, and continues from the first sample after the last good shard. A different
call (another source, size or options) into the same folder is refused.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from torch.utils.data import DataLoader, Dataset

from ...errors import UserError
from ...io import atomic_path, atomic_write_text
from ..badfiles import first_line
from ..threads import single_threaded
from .codec import encode_sample
from .index import INDEX_NAME, SHARD_PATTERN, ShardIndex, write_index

log = logging.getLogger(__name__)

PROGRESS_NAME = ".progress.json"
KEY_DIGITS = 9


@dataclass
class ShardReport:
    out: Path
    shards: int  # shards in the folder now
    samples: int  # samples in them
    written: int  # samples packed by this call
    kept_shards: int  # complete shards an earlier, interrupted call had written
    skipped: int  # unreadable samples left out (skip_bad), this call and earlier ones
    index: ShardIndex


class _Guarded(Dataset):
    """``dataset[i]`` or, for an unreadable sample, ``{"error": message}``, so one bad file cannot stop a
    DataLoader and the writer decides (skip and count, or stop naming it)."""

    def __init__(self, dataset: Dataset, start: int) -> None:
        self.dataset, self.start = dataset, start

    def __len__(self) -> int:
        return len(self.dataset) - self.start

    def __getitem__(self, i: int) -> dict[str, Any]:
        try:
            return {"index": self.start + i, "sample": self.dataset[self.start + i]}
        except UserError as e:
            return {"index": self.start + i, "error": str(e)}


def _key(index: int) -> str:
    return f"{index:0{KEY_DIGITS}d}"


def _shard_keys(path: Path) -> tuple[list[str], list[np.ndarray]]:
    """Sample keys of a complete shard (each with its .npy and .json) and its images, in order."""
    keys: dict[str, set[str]] = {}
    images: list[np.ndarray] = []
    with tarfile.open(path) as tar:
        for member in tar:
            key, _, ext = member.name.partition(".")
            keys.setdefault(key, set()).add(ext)
            if ext == "npy":
                images.append(np.load(io.BytesIO(tar.extractfile(member).read()), allow_pickle=False))
    for key, exts in keys.items():
        if not {"npy", "json"} <= exts:
            raise ValueError(f"sample {key} lacks {sorted({'npy', 'json'} - exts)}")
    return list(keys), images


def _verified(out: Path, progress: dict[str, Any], on_image: Callable[[np.ndarray], None] | None) -> list[dict]:
    """The recorded shards that are intact (count and keys as recorded), in order; the rest are deleted."""
    good: list[dict] = []
    for record in progress["shards"]:
        path = out / record["name"]
        try:
            if not path.is_file():
                raise ValueError("missing")
            keys, images = _shard_keys(path)
            if len(keys) != record["samples"] or keys[0] != _key(record["first"]) or keys[-1] != _key(record["last"]):
                raise ValueError(f"{len(keys)} sample(s), recorded {record['samples']}")
        except Exception as e:  # noqa: BLE001 (a damaged tar raises many types): rewrite from here
            log.warning("%s: %s; rewriting it and every later shard", path, first_line(e))
            break
        if on_image is not None:
            for image in images:
                on_image(image)
        good.append(record)
    recorded = {r["name"] for r in progress["shards"]}
    for record in progress["shards"][len(good):]:
        (out / record["name"]).unlink(missing_ok=True)
    for stray in out.glob("shard-*.tar"):  # written after the last progress record (a crash in between)
        if stray.name not in recorded:
            stray.unlink()
    return good


def write_shards(
    dataset: Dataset,
    out_dir: str | Path,
    shard_size_bytes: int = 1_000_000_000,
    *,
    source: str = "",
    split: str = "",
    layout: str = "",
    options: dict[str, Any] | None = None,
    skip_bad: bool = False,
    num_workers: int = 0,
    on_image: Callable[[np.ndarray], None] | None = None,
    progress: bool = False,
) -> ShardReport:
    """Pack ``dataset`` (sample dicts, see codec.py) into ``out_dir``; see the module docstring.

    ``options``: what else defines the call (bands, tile size...), compared on resume with ``source`` and
    the size. ``on_image(array)`` sees every packed image once, in order, including those of shards kept
    from an interrupted call (e.g. ``BandStats.update`` for the data card's statistics). ``skip_bad``
    leaves unreadable samples out and counts them; without it the first one stops the call, naming it.
    """
    from tqdm.auto import tqdm
    from webdataset import TarWriter

    if shard_size_bytes <= 0:
        raise UserError(f"--shard-size must be positive, got {shard_size_bytes} bytes")
    if len(dataset) == 0:
        raise UserError(f"{source or 'dataset'}: no samples to pack")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fingerprint = {"source": source, "split": split, "samples": len(dataset), "shard_size_bytes": shard_size_bytes,
                   "options": options or {}}
    progress_path = out / PROGRESS_NAME
    state = {"call": fingerprint, "shards": [], "skipped": []}
    if progress_path.is_file():
        previous = json.loads(progress_path.read_text())
        if previous.get("call") != fingerprint:
            raise UserError(f"{out}: holds shards of another call ({previous.get('call')}); "
                            "choose another --out or delete that folder")
        state["shards"] = _verified(out, previous, on_image)
        state["skipped"] = [i for i in previous.get("skipped", [])
                            if state["shards"] and i < state["shards"][-1]["last"]]
    elif any(out.glob("shard-*.tar")) or (out / INDEX_NAME).exists():
        raise UserError(f"{out}: already holds shards written by something else; choose another --out")
    kept = len(state["shards"])
    start = state["shards"][-1]["last"] + 1 if kept else 0
    for stale in out.glob(".shard-*.tmp"):
        stale.unlink()
    if kept:
        log.info("resuming: %d complete shard(s) kept, continuing at sample %d of %d", kept, start, len(dataset))

    loader = DataLoader(_Guarded(dataset, start), batch_size=None, shuffle=False, num_workers=num_workers)
    written = 0
    first_shape: list[int] | None = None
    shapes_differ = False
    dtype = None

    def items() -> Iterator[dict[str, Any]]:
        for item in tqdm(loader, total=len(loader), disable=not progress, desc="shards", unit="sample"):
            if "error" in item:
                if not skip_bad:
                    raise UserError(f"{item['error']} (pass --skip-bad to leave such samples out)")
                log.warning("skipped: %s", item["error"])
                state["skipped"].append(item["index"])
                continue
            yield item

    with single_threaded():
        pending = items()
        item = next(pending, None)
        shard_number = kept
        while item is not None:
            name = SHARD_PATTERN.format(shard_number)
            record = {"name": name, "samples": 0, "bytes": 0, "first": item["index"], "last": item["index"]}
            with atomic_path(out / name) as tmp, tmp.open("wb") as stream:
                writer = TarWriter(stream, mtime=0)  # mtime fixed: the same input gives the same bytes
                try:
                    while item is not None and (record["samples"] == 0 or record["bytes"] < shard_size_bytes):
                        sample = item["sample"]
                        record["bytes"] += writer.write(encode_sample(sample, _key(item["index"])))
                        record["samples"] += 1
                        record["last"] = item["index"]
                        written += 1
                        image = sample["image"].numpy()
                        if on_image is not None:
                            on_image(image)
                        dtype = dtype or image.dtype.name
                        if first_shape is None:
                            first_shape = list(image.shape)
                        shapes_differ |= list(image.shape) != first_shape
                        item = next(pending, None)
                finally:
                    writer.close()  # on an error too: the temp file is then removed, never renamed
            state["shards"].append(record)
            atomic_write_text(progress_path, json.dumps(state) + "\n")
            shard_number += 1
    if not state["shards"]:
        raise UserError(f"{source or 'dataset'}: every sample was unreadable; nothing was packed")
    if dtype is None or first_shape is None:  # everything was kept from an earlier call
        probe = _shard_keys(out / state["shards"][0]["name"])[1][0]
        dtype, first_shape = probe.dtype.name, list(probe.shape)
    atomic_write_text(progress_path, json.dumps(state) + "\n")
    index = ShardIndex(
        shards=[{k: r[k] for k in ("name", "samples", "bytes")} for r in state["shards"]],
        total=sum(r["samples"] for r in state["shards"]),
        channels=first_shape[0],
        dtype=dtype,
        band_names=list(getattr(dataset, "band_names", None) or []),
        shape=None if shapes_differ else first_shape,
        classes=list(getattr(dataset, "classes", None) or []) or None,
        has_masks=_has_masks(dataset),
        source=source,
        split=split,
        layout=layout,
    )
    write_index(index, out)
    log.info("%d sample(s) in %d shard(s) (%d written now, %d shard(s) kept, %d skipped); index %s",
             index.total, len(index.shards), written, kept, len(state["skipped"]), out / INDEX_NAME)
    return ShardReport(out, len(index.shards), index.total, written, kept, len(state["skipped"]), index)


def _has_masks(dataset: Dataset) -> bool:
    from ..datasets.segmentation import SegmentationDataset

    inner = getattr(dataset, "dataset", dataset)
    return isinstance(dataset, SegmentationDataset) or isinstance(inner, SegmentationDataset)
