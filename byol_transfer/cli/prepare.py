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
from . import arguments
from .stats import parse_scaling

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text: str) -> int:
    """``1GB`` → 10**9, ``512MiB`` → 512·2**20, ``4096`` → 4096 bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise UserError(f"--shard-size {text!r}: expected a size such as 1GB, 500MB, 256MiB or a byte count")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="prepare data (tiles from GeoTIFF scenes, webdataset shards)",
                       description=__doc__)
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    t = what.add_parser("tiles", help="cut GeoTIFF scenes into GeoTIFF tiles with their own CRS/transform",
                        description="Cut GeoTIFF scenes into georeferenced GeoTIFF tiles, skipping nodata.")
    t.add_argument("scenes", nargs="+", metavar="SCENE.tif",
                   help="GeoTIFF/COG paths or URLs (https://, s3://, gs://), or .txt files listing them")
    t.add_argument("--size", required=True, type=arguments.image_size, help="tile size in pixels")
    t.add_argument("--stride", type=arguments.positive_int, help="step between tiles (default: the size, no overlap)")
    t.add_argument("--out", required=True, type=Path, help="output folder")
    t.add_argument("--min-valid", type=arguments.probability, default=0.9,
                   help="keep tiles with at least this fraction of valid pixels (default 0.9)")
    t.add_argument("--bands", help="bands to keep: 1-based numbers or names, e.g. 4,3,2 or B04,B03,B02")
    t.add_argument("--card", help="data card whose band names --bands may use")
    t.add_argument("--nodata", type=float, help="nodata value when the scene declares none")

    s = what.add_parser("shards", help="pack any dataset into webdataset tar shards (+ index.json, card.yaml)",
                        description="Pack any dataset the readers take (tile folders, GeoTIFF scenes or their "
                                    "URLs, image folders, npz, image/mask pairs, labelled folders) into webdataset "
                                    "tar shards: one .npy (stored dtype) + .json per sample. Atomic per shard; "
                                    "re-run the same command to resume. See docs/data-at-scale.md.")
    s.add_argument("--data", required=True, help="dataset path, a GeoTIFF/COG URL, or a .txt list of scenes")
    s.add_argument("--out", required=True, type=Path, help="output folder for shard-NNNNNN.tar, index.json, card.yaml")
    s.add_argument("--shard-size", default="1GB", help="close a shard once it holds this much (default 1GB)")
    s.add_argument("--card", help="data card of the source (default: detected)")
    s.add_argument("--split", help="which split to pack: train (default where the data declare splits), test, "
                                   "val, or all; statistics are computed for training images only")
    s.add_argument("--labeled", action="store_true", help="store class labels (class subfolders, npz, --labels)")
    s.add_argument("--labels", help="a path,label CSV for an image folder (implies --labeled)")
    s.add_argument("--bands", help="bands to keep: 1-based numbers or names")
    s.add_argument("--tile", type=int, help="cut GeoTIFF scenes into windows of this size")
    s.add_argument("--stride", type=int, help="step between windows (default: the tile size)")
    s.add_argument("--min-valid", type=float, help="drop windows/tiles with fewer valid pixels (scenes: 0.9)")
    s.add_argument("--nodata", type=float, help="nodata value when the files declare none")
    s.add_argument("--image-size", type=int, help="resize images to this square size (default: native)")
    s.add_argument("--scaling", help="value scaling the card's mean/std are expressed after: auto, none, "
                                     "divide:10000, ct_window:C,W, percentile_clip (default: the card's, else auto)")
    s.add_argument("--workers", type=int, default=0, help="DataLoader workers reading the source (default 0)")
    s.add_argument("--skip-bad", action="store_true", help="leave unreadable files out (counted) instead of stopping")


def run(args: argparse.Namespace) -> int:
    return _tiles(args) if args.what == "tiles" else _shards(args)


def _tiles(args: argparse.Namespace) -> int:
    band_names = load_card(args.card).band_names if args.card else None
    report = write_tiles(scene_list(args.scenes), args.out, args.size, args.stride, min_valid=args.min_valid,
                         bands=parse_bands(args.bands), band_names=band_names, nodata=args.nodata)
    for scene, (kept, skipped) in report.per_scene.items():
        print(f"{scene}: kept {kept}, skipped {skipped}")
    print(f"kept {report.kept} tile(s), skipped {report.skipped} (valid pixels < {args.min_valid:.0%}); "
          f"index: {args.out / INDEX_NAME}")
    return 0


def _shards(args: argparse.Namespace) -> int:
    from ..config import ScalingSpec
    from ..data.build import build_dataset
    from ..data.discover import declares_splits
    from ..data.shards import write_shards
    from ..data.shards.card_stub import write_card_stub
    from ..data.stats import BandStats, dataset_nodata

    size = parse_size(args.shard_size)
    labeled = args.labeled or args.labels is not None
    dataset = build_dataset(
        args.data, args.image_size, card=args.card, labeled=labeled, split=args.split, labels=args.labels,
        bands=parse_bands(args.bands), tile_size=args.tile, stride=args.stride, min_valid=args.min_valid,
        nodata=args.nodata, skip_bad=args.skip_bad,
    )
    dataset.skip_bad = False  # read errors are the writer's to skip and count (no duplicated neighbour)
    splits = declares_splits(args.data, dataset.card, dataset.layout)
    split = args.split or ("train" if splits else "all")
    training = split == "train" or not splits
    stats = None
    if training:
        nodata, zero_is_nodata = dataset_nodata(dataset)
        stats = BandStats(dataset.in_chans, str(dataset.dtype).removeprefix("torch."), nodata, zero_is_nodata)
    options = {"bands": args.bands, "tile": args.tile, "stride": args.stride, "min_valid": args.min_valid,
               "nodata": args.nodata, "image_size": args.image_size, "labeled": labeled, "labels": args.labels,
               "card": args.card, "scaling": args.scaling}
    report = write_shards(
        dataset, args.out, size, source=str(args.data),
        split=f"{split} split" if splits else "all images (no split declared)",
        layout=dataset.layout, options=options, skip_bad=args.skip_bad, num_workers=args.workers,
        on_image=stats.update if stats is not None else None, progress=True,
    )
    scaling = parse_scaling(args.scaling)
    if scaling is None:
        scaling = dataset.card.resolved_scaling() if dataset.card is not None else ScalingSpec()
    if scaling.kind == "percentile_clip" and scaling.low is None:
        scaling = dataclasses.replace(scaling, stats=None)  # bounds from this very run's p1/p99
    card = write_card_stub(args.out, report.index, stats, scaling=scaling, source_card=dataset.card)
    print(f"{report.samples} sample(s) in {report.shards} shard(s) ({report.written} written now, "
          f"{report.kept_shards} shard(s) kept from an earlier run, {report.skipped} unreadable skipped); "
          f"index: {args.out / 'index.json'}; card: {card}")
    return 0
