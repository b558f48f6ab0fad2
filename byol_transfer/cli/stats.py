"""byol-transfer stats: per-band mean, std, p1, p99 of a dataset → stats.json (for normalisation and clipping)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ..config import ScalingSpec, to_dict
from ..config.flags import Flag, add_flags
from ..config.resolve import resolve
from ..config.stats import StatsConfig
from ..data.bands import parse_bands
from ..data.build import build_dataset
from ..data.discover import resolve_card
from ..data.stats import compute_stats, write_stats
from ..errors import UserError


FLAGS = [
    Flag("--data", "data.path", "folder, .npz archive or GeoTIFF scene", required=True),
    Flag("--card", "data.card", "data card name (see docs/data.md) or card.yaml path; default: detected"),
    Flag("--split", "data.split", "train, val, test or all (default: the training split when declared)"),
    Flag("--labels", "data.labels", "a path,label CSV choosing the images (paths relative to --data)"),
    Flag("--scaling", "scaling", "value scaling the mean/std are expressed after: auto, none, divide:10000, "
         "ct_window:CENTER,WIDTH or percentile_clip (default: the card's, else auto)"),
    Flag("--bands", "data.bands", "bands to keep: 1-based numbers or names, e.g. 4,3,2 or B04,B03,B02"),
    Flag("--tile-size", "tile_size", "tile GeoTIFF scenes into windows of this size"),
    Flag("--stride", "stride", "window stride for scenes (default: the tile size)"),
    Flag("--min-valid", "min_valid", "drop tiles/windows with fewer valid pixels (0..1)"),
    Flag("--max-images", "max_images", "a seeded random subset of this many images"),
    Flag("--workers", "workers", "DataLoader workers"),
    Flag("--mask-suffix", "mask_suffix", "for images/ + masks/ folders: what mask names add to the image stem, "
         "e.g. _mask (default: detected)"),
    Flag("--skip-bad", "data.skip_bad", "skip unreadable files (counted in the log)"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="per-band statistics of a dataset (stats.json)", description=__doc__)
    p.add_argument("--out", required=True, type=Path, help="stats.json to write")
    add_flags(p, StatsConfig, FLAGS)


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


def split_keys(record: dict) -> dict:
    """stats.json's record of the images it was computed over: normalisation must come from training
    images only, so a committed stats.json says which split (``split``), how it was chosen
    (``split_from``) and, for a split file, its path as the card names it and its sha256."""
    keys = {"split": record.get("split", "all"), "split_from": record.get("from", "every image")}
    if "path" in record:
        keys["split_file"] = record["path"]
        keys["split_sha256"] = record["sha256"]
    return keys


def run(args: argparse.Namespace) -> int:
    cfg = resolve(StatsConfig, args, FLAGS)
    source = Path(cfg.data.path)
    card, layout = resolve_card(source, cfg.data.card, tile_size=cfg.tile_size)
    # class counts come for free when the labels need no extra file (class folders, npz arrays)
    labeled = cfg.data.labels is not None or (card is not None and card.labels in ("subfolder", "npz"))
    dataset = build_dataset(
        source, None, card=card or False, layout=layout, split=cfg.data.split, labels=cfg.data.labels,
        labeled=labeled, bands=parse_bands(cfg.data.bands), tile_size=cfg.tile_size, stride=cfg.stride,
        min_valid=cfg.min_valid, skip_bad=cfg.data.skip_bad, mask_suffix=cfg.mask_suffix,
    )
    scaling = parse_scaling(cfg.scaling)
    if scaling is None:
        scaling = dataset.card.resolved_scaling() if dataset.card is not None else ScalingSpec()
    if scaling.kind == "percentile_clip" and scaling.low is None:
        scaling = dataclasses.replace(scaling, stats=None)  # bounds come from this very run's p1/p99
    stats = compute_stats(dataset, scaling, max_images=cfg.max_images, num_workers=cfg.workers,
                          progress=not getattr(args, "quiet", False),
                          where=str(source))
    stats["source"] = str(source)
    stats.update(split_keys(getattr(dataset, "split_record", None) or {}))
    stats["config"] = to_dict(cfg)  # the resolved settings travel with the numbers they produced
    write_stats(stats, args.out)
    fmt = lambda values: ", ".join(f"{v:.4g}" for v in values)  # noqa: E731
    print(f"{stats['images']} images, {stats['dtype']}, {len(stats['mean'])} band(s) → {args.out}")
    for key in ("mean", "std", "p1", "p99"):
        print(f"  {key:<4} {fmt(stats[key])}")
    return 0
