"""byol-transfer stats: per-band mean, std, p1, p99 of a dataset → stats.json (for normalisation and clipping)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..config import ScalingSpec
from ..data.build import build_dataset
from ..data.discover import resolve_card
from ..data.bands import parse_bands
from ..data.stats import compute_stats, write_stats
from ..errors import UserError
from . import arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="per-band statistics of a dataset (stats.json)", description=__doc__)
    p.add_argument("--data", required=True, type=Path, help="folder, .npz archive or GeoTIFF scene")
    p.add_argument("--card", help="data card name (see docs/data.md) or card.yaml path; default: detected")
    p.add_argument("--out", required=True, type=Path, help="stats.json to write")
    p.add_argument("--split", help="train, val, test or all (default: the training split when declared)")
    p.add_argument("--labels", type=Path, help="a path,label CSV choosing the images (paths relative to --data)")
    p.add_argument("--scaling", help="value scaling the mean/std are expressed after: auto, none, divide:10000, "
                                     "ct_window:CENTER,WIDTH or percentile_clip (default: the card's, else auto)")
    p.add_argument("--bands", help="bands to keep: 1-based numbers or names, e.g. 4,3,2 or B04,B03,B02")
    p.add_argument("--tile-size", type=arguments.image_size, help="tile GeoTIFF scenes into windows of this size")
    p.add_argument("--stride", type=arguments.positive_int, help="window stride for scenes (default: the tile size)")
    p.add_argument("--min-valid", type=arguments.probability, help="drop tiles/windows with fewer valid pixels (0..1)")
    p.add_argument("--max-images", type=arguments.positive_int, help="a seeded random subset of this many images")
    p.add_argument("--workers", type=arguments.non_negative_int, default=0, help="DataLoader workers (default 0)")
    p.add_argument("--mask-suffix", help="for images/ + masks/ folders: what mask names add to the image stem, "
                   "e.g. _mask (default: detected)")
    p.add_argument("--skip-bad", action="store_true", help="skip unreadable files (counted in the log)")


def parse_scaling(text: str | None) -> ScalingSpec | None:
    if text is None:
        return None
    kind, _, rest = text.partition(":")
    try:
        if kind in ("auto", "none", "percentile_clip") and not rest:
            return ScalingSpec(kind=kind)  # type: ignore[arg-type]
        if kind == "divide":
            return ScalingSpec(kind="divide", value=float(rest))
        if kind == "ct_window":
            center, width = (float(v) for v in rest.split(","))
            return ScalingSpec(kind="ct_window", center=center, width=width)
    except ValueError:
        pass
    raise UserError(f"--scaling {text!r}: expected auto, none, divide:VALUE, ct_window:CENTER,WIDTH or percentile_clip")


def run(args: argparse.Namespace) -> int:
    card, layout = resolve_card(args.data, args.card, tile_size=args.tile_size)
    # class counts come for free when the labels need no extra file (class folders, npz arrays)
    labeled = args.labels is not None or (card is not None and card.labels in ("subfolder", "npz"))
    dataset = build_dataset(
        args.data, None, card=card or False, layout=layout, split=args.split, labels=args.labels, labeled=labeled,
        bands=parse_bands(args.bands), tile_size=args.tile_size, stride=args.stride, min_valid=args.min_valid,
        skip_bad=args.skip_bad, mask_suffix=args.mask_suffix,
    )
    scaling = parse_scaling(args.scaling)
    if scaling is None:
        scaling = dataset.card.resolved_scaling() if dataset.card is not None else ScalingSpec()
    if scaling.kind == "percentile_clip" and scaling.low is None:
        scaling = dataclasses.replace(scaling, stats=None)  # bounds come from this very run's p1/p99
    stats = compute_stats(dataset, scaling, max_images=args.max_images, num_workers=args.workers,
                          progress=not getattr(args, "quiet", False),
                          where=str(args.data))
    stats["source"] = str(args.data)
    write_stats(stats, args.out)
    fmt = lambda values: ", ".join(f"{v:.4g}" for v in values)  # noqa: E731
    print(f"{stats['images']} images, {stats['dtype']}, {len(stats['mean'])} band(s) → {args.out}")
    for key in ("mean", "std", "p1", "p99"):
        print(f"  {key:<4} {fmt(stats[key])}")
    return 0
