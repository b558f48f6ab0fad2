"""byol-transfer prepare: cut GeoTIFF scenes into GeoTIFF tiles (``tiles``), or pack any dataset into
webdataset tar shards for streaming (``shards``)."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

from ..data.cards import load_card
from ..data.bands import parse_bands
from ..data.remote import scene_list
from ..data.tiles.writer import INDEX_NAME, write_tiles
from ..errors import UserError
from ..config.flags import Flag, add_flags
from ..config.prepare import ShardsConfig, TilesConfig
from ..config.resolve import resolve, write_resolved
from .stats import parse_scaling

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text: str) -> int:
    """``1GB`` → 10**9, ``512MiB`` → 512·2**20, ``4096`` → 4096 bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise UserError(f"--shard-size {text!r}: expected a size such as 1GB, 500MB, 256MiB or a byte count")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


TILE_FLAGS = [
    Flag("scenes", "scenes", "GeoTIFF/COG paths or URLs (https://, s3://, gs://), or .txt files listing them",
         metavar="SCENE.tif", required=True),
    Flag("--size", "size", "tile size in pixels", required=True),
    Flag("--stride", "stride", "step between tiles (default: the size, no overlap)"),
    Flag("--min-valid", "min_valid", "keep tiles with at least this fraction of valid pixels"),
    Flag("--bands", "bands", "bands to keep: 1-based numbers or names, e.g. 4,3,2 or B04,B03,B02"),
    Flag("--card", "card", "data card whose band names --bands may use"),
    Flag("--nodata", "nodata", "nodata value when the scene declares none"),
]

SHARD_FLAGS = [
    Flag("--data", "data.path", "dataset path, a GeoTIFF/COG URL, or a .txt list of scenes", required=True),
    Flag("--shard-size", "shard_size", "close a shard once it holds this much"),
    Flag("--card", "data.card", "data card of the source (default: detected)"),
    Flag("--split", "data.split", "which split to pack: train (default where the data declare splits), test, val, "
         "or all; statistics are computed for training images only"),
    Flag("--labeled", "labeled", "store class labels (class subfolders, npz, --labels)"),
    Flag("--labels", "data.labels", "a path,label CSV for an image folder (implies --labeled)"),
    Flag("--bands", "data.bands", "bands to keep: 1-based numbers or names"),
    Flag("--tile", "tile", "cut GeoTIFF scenes into windows of this size"),
    Flag("--stride", "stride", "step between windows (default: the tile size)"),
    Flag("--min-valid", "min_valid", "drop windows/tiles with fewer valid pixels (scenes: 0.9)"),
    Flag("--nodata", "nodata", "nodata value when the files declare none"),
    Flag("--image-size", "image_size", "resize images to this square size (default: native)"),
    Flag("--scaling", "scaling", "value scaling the card's mean/std are expressed after: auto, none, divide:10000, "
         "ct_window:C,W, percentile_clip (default: the card's, else auto)"),
    Flag("--workers", "workers", "DataLoader workers reading the source"),
    Flag("--skip-bad", "data.skip_bad", "leave unreadable files out (counted) instead of stopping"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="prepare data (tiles from GeoTIFF scenes, webdataset shards)",
                       description=__doc__)
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    t = what.add_parser("tiles", help="cut GeoTIFF scenes into GeoTIFF tiles with their own CRS/transform",
                        description="Cut GeoTIFF scenes into georeferenced GeoTIFF tiles, skipping nodata.")
    t.add_argument("--out", required=True, type=Path, help="output folder")
    add_flags(t, TilesConfig, TILE_FLAGS)

    s = what.add_parser("shards", help="pack any dataset into webdataset tar shards (+ index.json, card.yaml)",
                        description="Pack any dataset the readers take (tile folders, GeoTIFF scenes or their "
                                    "URLs, image folders, npz, image/mask pairs, labelled folders) into webdataset "
                                    "tar shards: one .npy (stored dtype) + .json per sample. Atomic per shard; "
                                    "re-run the same command to resume. See docs/data-at-scale.md.")
    s.add_argument("--out", required=True, type=Path, help="output folder for shard-NNNNNN.tar, index.json, card.yaml")
    add_flags(s, ShardsConfig, SHARD_FLAGS)


def run(args: argparse.Namespace) -> int:
    return _tiles(args) if args.what == "tiles" else _shards(args)


def _tiles(args: argparse.Namespace) -> int:
    cfg = resolve(TilesConfig, args, TILE_FLAGS)
    band_names = load_card(cfg.card).band_names if cfg.card else None
    report = write_tiles(scene_list(cfg.scenes), args.out, cfg.size, cfg.stride, min_valid=cfg.min_valid,
                         bands=parse_bands(cfg.bands), band_names=band_names, nodata=cfg.nodata)
    write_resolved(cfg, args.out)
    for scene, (kept, skipped) in report.per_scene.items():
        print(f"{scene}: kept {kept}, skipped {skipped}")
    print(f"kept {report.kept} tile(s), skipped {report.skipped} (valid pixels < {cfg.min_valid:.0%}); "
          f"index: {args.out / INDEX_NAME}")
    return 0


def _shards(args: argparse.Namespace) -> int:
    from ..config import ScalingSpec
    from ..data.build import build_dataset
    from ..data.discover import declares_splits
    from ..data.shards import write_shards
    from ..data.shards.card_stub import write_card_stub
    from ..data.stats import BandStats, dataset_nodata

    cfg = resolve(ShardsConfig, args, SHARD_FLAGS)
    data = cfg.data
    size = parse_size(cfg.shard_size)
    labeled = cfg.labeled or data.labels is not None
    dataset = build_dataset(
        data.path, cfg.image_size, card=data.card, labeled=labeled, split=data.split, labels=data.labels,
        bands=parse_bands(data.bands), tile_size=cfg.tile, stride=cfg.stride, min_valid=cfg.min_valid,
        nodata=cfg.nodata, skip_bad=data.skip_bad,
    )
    dataset.skip_bad = False  # read errors are the writer's to skip and count (no duplicated neighbour)
    splits = declares_splits(data.path, dataset.card, dataset.layout)
    split = data.split or ("train" if splits else "all")
    training = split == "train" or not splits
    stats = None
    if training:
        nodata, zero_is_nodata = dataset_nodata(dataset)
        stats = BandStats(dataset.in_chans, str(dataset.dtype).removeprefix("torch."), nodata, zero_is_nodata)
    options = {"bands": data.bands, "tile": cfg.tile, "stride": cfg.stride, "min_valid": cfg.min_valid,
               "nodata": cfg.nodata, "image_size": cfg.image_size, "labeled": labeled, "labels": data.labels,
               "card": data.card, "scaling": cfg.scaling}
    report = write_shards(
        dataset, args.out, size, source=str(data.path),
        split=f"{split} split" if splits else "all images (no split declared)",
        layout=dataset.layout, options=options, skip_bad=data.skip_bad, num_workers=cfg.workers,
        on_image=stats.update if stats is not None else None, progress=True,
    )
    scaling = parse_scaling(cfg.scaling)
    if scaling is None:
        scaling = dataset.card.resolved_scaling() if dataset.card is not None else ScalingSpec()
    if scaling.kind == "percentile_clip" and scaling.low is None:
        scaling = dataclasses.replace(scaling, stats=None)  # bounds from this very run's p1/p99
    card = write_card_stub(args.out, report.index, stats, scaling=scaling, source_card=dataset.card)
    write_resolved(cfg, args.out)
    print(f"{report.samples} sample(s) in {report.shards} shard(s) ({report.written} written now, "
          f"{report.kept_shards} shard(s) kept from an earlier run, {report.skipped} unreadable skipped); "
          f"index: {args.out / 'index.json'}; card: {card}")
    return 0
