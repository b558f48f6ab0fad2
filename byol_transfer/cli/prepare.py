"""byol-transfer prepare tiles: cut GeoTIFF scenes into georeferenced GeoTIFF tiles, skipping nodata."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data.cards import load_card
from ..data.geotiff import parse_bands
from ..data.tile_writer import INDEX_NAME, write_tiles
from . import arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="prepare data (tiles from GeoTIFF scenes)", description=__doc__)
    what = p.add_subparsers(dest="what", required=True, metavar="WHAT")
    t = what.add_parser("tiles", help="cut GeoTIFF scenes into GeoTIFF tiles with their own CRS/transform",
                        description=__doc__)
    t.add_argument("scenes", nargs="+", type=Path, metavar="SCENE.tif")
    t.add_argument("--size", required=True, type=arguments.image_size, help="tile size in pixels")
    t.add_argument("--stride", type=arguments.positive_int, help="step between tiles (default: the size, no overlap)")
    t.add_argument("--out", required=True, type=Path, help="output folder")
    t.add_argument("--min-valid", type=arguments.probability, default=0.9,
                   help="keep tiles with at least this fraction of valid pixels (default 0.9)")
    t.add_argument("--bands", help="bands to keep: 1-based numbers or names, e.g. 4,3,2 or B04,B03,B02")
    t.add_argument("--card", help="data card whose band names --bands may use")
    t.add_argument("--nodata", type=float, help="nodata value when the scene declares none")


def run(args: argparse.Namespace) -> int:
    band_names = load_card(args.card).band_names if args.card else None
    report = write_tiles(args.scenes, args.out, args.size, args.stride, min_valid=args.min_valid,
                         bands=parse_bands(args.bands), band_names=band_names, nodata=args.nodata)
    for scene, (kept, skipped) in report.per_scene.items():
        print(f"{scene}: kept {kept}, skipped {skipped}")
    print(f"kept {report.kept} tile(s), skipped {report.skipped} (valid pixels < {args.min_valid:.0%}); "
          f"index: {args.out / INDEX_NAME}")
    return 0
