"""Streaming shards for training: webdataset's pipeline, split over ranks and DataLoader workers.

One pass over the shards, per process::

    shard list (order shuffled by (seed, epoch, pass), the same on every rank)
      → webdataset.split_by_node (rank r of R takes shards r, r+R, ...)
      → split by worker (worker w of W takes every W-th of those, as webdataset.split_by_worker does)
      → tarfile_to_samples → shuffle buffer (seeded per rank and worker) → decode (codec.py)

With ``passes=None`` (training) the stream never ends: after a pass it starts the next, reshuffled, so every
rank can always deliver its batches and DDP ranks never wait on each other; the training loop takes
``total // global_batch`` batches per epoch from a fresh iterator (see train/loop.py). When the shard count
is a multiple of ranks × workers and the shards hold equal counts, an epoch shows every sample exactly once
across ranks (a total that is a multiple of the global batch); otherwise some ranks wrap around sooner.

Resume (:meth:`ShardStream.set_position`): epoch ``e`` is re-seeded from (seed, e) and the batches already
consumed in it are skipped after the shuffle buffer, before decoding. A DataLoader hands out batches of an
iterable dataset round-robin over its workers, so worker ``w`` skips its share of those batches; the
resumed run sees exactly the batches of an uninterrupted one, for the same world size and worker count.
A fresh DataLoader starts its round-robin at worker 0, so after ``k`` skipped batches worker ``w`` plays
the part of the uninterrupted run's worker ``(w + k) mod W`` (its shards, its shuffle seed, its skip):
webdataset's ``split_by_worker`` cannot take that offset, hence the small splitter here.

Reading: shards on a local or shared file system are read through a memory map with ``wids``'
``MMIndexedTar`` (the webdataset project's indexed tar reader: headers parsed with ``struct``, members
sliced from the map), which reads 13×64×64 uint16 samples ~5x faster than the ``tarfile`` streaming
that webdataset's ``tarfile_to_samples`` uses; URLs (http, s3, gs) stream through webdataset's pipes.
Both give the same sample dicts (``__key__``, ``__url__``, one entry per extension).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import random
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..badfiles import BadFileError
from ..datasets.base import torch_dtype
from ..cards import CARD_FILE, DataCard, load_card
from ..remote import describe_pipe_error, is_url, stream_url
from ..resize import resize_mask_to_square, resize_to_square
from .codec import decode_sample
from .index import ShardSource, resolve_shards

log = logging.getLogger(__name__)


class ShardStream(IterableDataset):
    """Sample dicts from shards, like the map-style datasets (``in_chans``, ``dtype``, ``band_names``...)."""

    def __init__(
        self,
        source: ShardSource,
        *,
        seed: int = 0,
        shuffle_buffer: int = 1000,
        passes: int | None = None,
        skip_bad: bool = False,
        image_size: int | None = None,
    ) -> None:
        self.image_size = image_size  # resize (as the readers do) when the stored size differs; None: as stored
        self.source, self.seed, self.shuffle_buffer, self.passes = source, seed, shuffle_buffer, passes
        self.skip_bad = skip_bad
        self.epoch, self.skip_batches, self.batch_size = 0, 0, 1
        self.skipped_shards = 0  # corrupt shards (or shard tails) passed over in this process (skip_bad)
        self.skipped_samples = 0
        index = source.index
        self.in_chans, self.band_names, self.classes = index.channels, list(index.band_names), index.classes
        self.dtype: torch.dtype = torch_dtype(index.dtype)
        self.card = None
        self.layout = "shards"
        self._urls = {stream_url(u): u for u in source.urls}
        self._counts = dict(zip(source.urls, source.counts))

    @property
    def samples_per_epoch(self) -> int:
        return self.source.total

    def set_position(self, epoch: int, skip_batches: int = 0, batch_size: int = 1) -> None:
        """The next iterator serves epoch ``epoch``, minus its first ``skip_batches`` batches of ``batch_size``."""
        self.epoch, self.skip_batches, self.batch_size = epoch, skip_batches, batch_size

    def shard_order(self, pass_number: int) -> list[str]:
        order = list(self.source.urls)
        random.Random(f"{self.seed}/{self.epoch}/{pass_number}").shuffle(order)  # str seeds are stable
        return order

    def _pass(self, pass_number: int, rank: int, role: int, workers: int) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        rng = random.Random(f"{self.seed}/{self.epoch}/{pass_number}/{rank}/{role}")
        pipeline = wds.DataPipeline(
            wds.SimpleShardList([stream_url(u) for u in self.shard_order(pass_number)]),
            wds.split_by_node,
            lambda shards: itertools.islice(shards, role, None, workers),
            self._samples_of_shards,
            self._check_counts,
            wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, rng=rng),
        )
        return iter(pipeline)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from webdataset.utils import pytorch_worker_info

        rank, world, _, _ = pytorch_worker_info()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        if len(self.source.urls[rank::world]) < workers:  # some worker of this rank would get no shard
            raise BadFileError(
                f"{self.source.folder}: {len(self.source.urls)} shard(s) cannot feed {world} rank(s) × {workers} "
                "DataLoader worker(s); write smaller shards (--shard-size) or use fewer workers"
            )
        # batches of this epoch already consumed (resume) were taken round-robin from the workers: this worker
        # continues the part of the one whose batch comes next, and skips what that one had served
        role = (worker + self.skip_batches) % workers
        done = (self.skip_batches - role - 1) // workers + 1 if self.skip_batches > role else 0
        passes = itertools.count() if self.passes is None else range(self.passes)
        raw = itertools.chain.from_iterable(self._pass(p, rank, role, workers) for p in passes)
        for item in itertools.islice(raw, done * self.batch_size, None):
            try:
                sample = decode_sample(item)
                sample["image"] = resize_to_square(sample["image"], self.image_size)
                if "mask" in sample:
                    sample["mask"] = resize_mask_to_square(sample["mask"], self.image_size)
                yield sample
            except BadFileError as e:
                if not self.skip_bad:
                    raise
                self.skipped_samples += 1
                log.warning("skipped (--skip-bad): %s", e)

    def _samples_of_shards(self, shards: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Grouped tar members of each shard: memory-mapped for local files, webdataset's pipes for URLs."""
        import webdataset as wds

        for shard in shards:
            url = shard["url"]
            if is_url(self._urls.get(url, url)):
                yield from wds.tarfile_to_samples(handler=self._on_error)(iter([shard]))
            else:
                yield from self._local_samples(url)

    def _local_samples(self, path: str) -> Iterator[dict[str, Any]]:
        from webdataset.tariterators import base_plus_ext
        from wids.wids_mmtar import MMIndexedTar

        try:
            # MMIndexedTar prints a header it cannot parse before raising: keep that off the user's screen
            with contextlib.redirect_stdout(io.StringIO()):
                tar = MMIndexedTar(path, verbose=False)
        except Exception as e:  # noqa: BLE001 (any failure to index the tar means a bad shard)
            self._bad_shard(path, f"{type(e).__name__}: {e}")
            return
        view = memoryview(tar.mmapped_file)
        try:
            sample: dict[str, Any] | None = None
            for name, offset, size in tar.by_index:  # (member name, header offset, size): no copy yet
                key, extension = base_plus_ext(name)
                if key is None:
                    continue
                if sample is None or sample["__key__"] != key:
                    if sample is not None:
                        yield sample
                    sample = {"__key__": key, "__url__": path}
                # one copy out of the map, into memory numpy can use writable as it is (codec._load_npy)
                sample[extension.lower()] = bytearray(view[offset + 512:offset + 512 + size])
            if sample is not None:
                yield sample
        finally:
            view.release()  # the map cannot close while a view of it exists
            tar.close()

    def _check_counts(self, samples: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Each shard must yield the sample count its index lists. tarfile takes a tar cut short at a header
        boundary (a download dropped midway, a full disk) for a shorter, valid archive; this catches it."""
        current, count = None, 0
        for sample in samples:
            url = sample.get("__url__")
            if url != current:
                self._compare(current, count)
                current, count = url, 0
            count += 1
            yield sample
        self._compare(current, count)

    def _compare(self, stream_name: str | None, count: int) -> None:
        if stream_name is None:
            return
        url = self._urls.get(stream_name, stream_name)
        expected = self._counts.get(url)
        if expected is not None and count != expected:
            message = f"{url}: truncated shard ({count} of the {expected} samples its index lists)"
            if not self.skip_bad:
                raise BadFileError(message)
            log.warning("skipped (--skip-bad): %s", message)

    def _on_error(self, exn: BaseException) -> bool:
        """webdataset's error handler: name the shard; skip the rest of it under ``skip_bad``.

        webdataset calls it from each stage; the stage reading a tar member does not know the shard's URL,
        so there the error goes on up unchanged to the stage that opened the shard and appends its URL.
        """
        if isinstance(exn, BadFileError):  # ours, passing through an outer stage that appended its own args
            raise BadFileError(str(exn.args[0]))
        url = next((self._urls[a] for a in reversed(exn.args) if isinstance(a, str) and a in self._urls), None)
        if url is None:
            raise exn
        return self._bad_shard(url, describe_pipe_error(exn).split(" @ <", 1)[0])  # webdataset appends a repr

    def _bad_shard(self, url: str, reason: str) -> bool:
        """Skip the rest of a bad shard (counted) under ``skip_bad``, else a BadFileError naming it."""
        message = f"{url}: corrupt or unreadable shard ({reason})"
        if self.skip_bad:
            self.skipped_shards += 1
            log.warning("skipped (--skip-bad): %s", message)
            return True
        raise BadFileError(message)


def build_shard_stream(
    spec: str | Path | ShardSource,
    *,
    seed: int = 0,
    shuffle_buffer: int = 1000,
    passes: int | None = None,
    skip_bad: bool = False,
    image_size: int | None = None,
    card: str | Path | DataCard | None | bool = None,
) -> ShardStream:
    """A :class:`ShardStream` over ``spec`` (a folder with index.json, a brace pattern, local or URL).

    ``passes=None`` streams forever (training: take ``samples_per_epoch // batch`` batches per epoch);
    ``passes=1`` is one pass over this process's shards (benchmarks, evaluation). ``shuffle_buffer=0``
    keeps shard order within each shard. ``image_size`` resizes like the readers (None: as stored).
    ``card``: a card name, path or :class:`DataCard`; ``None`` takes the ``card.yaml`` that ``prepare shards``
    wrote beside a local index; ``False`` uses none. The card ends up in ``stream.card``, as for
    ``build_dataset``.
    """
    source = spec if isinstance(spec, ShardSource) else resolve_shards(spec)
    stream = ShardStream(source, seed=seed, shuffle_buffer=shuffle_buffer, passes=passes, skip_bad=skip_bad,
                         image_size=image_size)
    if isinstance(card, DataCard):
        stream.card = card
    elif card:
        stream.card = load_card(card)
    elif card is None and not is_url(source.folder) and (Path(source.folder) / CARD_FILE).is_file():
        stream.card = load_card(Path(source.folder))
        log.info("data card of the shards: %s", Path(source.folder) / CARD_FILE)
    if stream.card is not None and not stream.band_names and stream.card.band_names:
        stream.band_names = list(stream.card.band_names)
    return stream
