"""webdataset tar shards: pack any dataset the data layer reads, then stream it for pretraining.

Public API (see each module):

- :func:`write_shards` (writer.py): ``write_shards(dataset, out_dir, shard_size_bytes=1e9, ...)`` packs a
  map-style dataset of sample dicts into ``shard-000000.tar``, ... plus ``index.json``; atomic per shard,
  resumable. Returns a :class:`ShardReport`.
- :func:`build_shard_stream` (stream.py): ``build_shard_stream(spec, seed=0, ...)`` → a :class:`ShardStream`,
  an ``IterableDataset`` of the same sample dicts the data layer yields (``{"image": C×H×W tensor in the
  stored dtype, "label"?, "mask"?, "meta": {...}}``), split over ranks and DataLoader workers, shuffled.
- :func:`resolve_shards` (index.py): ``spec`` (a folder with index.json, or a brace pattern, local or URL)
  → the shard URLs and their sample counts; :func:`is_shard_spec` tells whether ``--data`` names shards.
- codec.py: the on-disk sample format (``.npy`` in its own dtype, ``.json`` metadata, ``.mask.npy``).
"""

from .codec import decode_sample, encode_sample
from .index import INDEX_NAME, ShardIndex, ShardSource, is_shard_spec, read_index, resolve_shards
from .stream import ShardStream, build_shard_stream
from .writer import ShardReport, write_shards

__all__ = [
    "INDEX_NAME",
    "ShardIndex",
    "ShardReport",
    "ShardSource",
    "ShardStream",
    "build_shard_stream",
    "decode_sample",
    "encode_sample",
    "is_shard_spec",
    "read_index",
    "resolve_shards",
    "write_shards",
]
