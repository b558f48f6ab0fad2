"""byol-transfer pretrain: BYOL on a folder of unlabeled images → RUN_DIR/{config.yaml, metrics.csv, last.ckpt}."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from ..config import PretrainConfig, read_yaml
from ..config.flags import Flag, add_flags, flag_values
from ..data.bands import parse_bands
from ..data.build import build_dataset
from ..data.recipe_card import apply_card
from ..data.shards import build_shard_stream, is_shard_spec
from ..errors import UserError
from ..io import stale_temps
from ..train.budget import parse_duration
from ..train.checkpoint import CHECKPOINT_NAME, load_checkpoint
from ..train.loop import pretrain, resolve_device
from ..train.monitor import build_monitor
from ..train.preflight import check_before_data
from ..train.run_config import config_source, resolve_config
from .arguments import positive_int

log = logging.getLogger(__name__)

# Flags that set config keys: type, bounds and default come from PretrainConfig (config/pretrain.py).
FLAGS = [
    Flag("--data", "data.path", "folder of images or GeoTIFFs (searched recursively), an .npz archive, a GeoTIFF "
         "scene, or images/+masks/ (see docs/data.md); or webdataset shards: a folder with index.json or "
         "'DIR/shard-{000000..000123}.tar', local or a URL (see docs/data-at-scale.md)"),
    Flag("--card", "data.card", "data card (datasets/<name>/card.yaml, e.g. eurosat_ms): band names, value scaling, "
         "normalisation stats, splits; default: detected from the layout"),
    Flag("--bands", "data.bands", "bands to keep: 1-based numbers or names, e.g. 4,3,2 or B04,B03,B02 (names from "
         "the GeoTIFF band descriptions or the data card)"),
    Flag("--backbone", "model.backbone", "any timm model name, e.g. resnet18, resnet50, convnext_tiny"),
    Flag("--init", "model.init", "start both encoders from these weights: a BYOL export, a timm .safetensors or a "
         ".pth/.pt state dict (a classifier head is dropped); strict except the first conv when the bands differ "
         "(see --band-map); the file's sha256 and the band mapping are recorded", metavar="WEIGHTS"),
    Flag("--band-map", "model.band_map", "with --init: how the first conv's bands are filled: TARGET=SOURCE pairs "
         "(names or 1-based numbers, SOURCE may be 'mean'; e.g. B04=red,B03=green,B02=blue) or 'repeat' (timm's "
         "repeat-and-scale); default: by band names, others get the mean filter", metavar="MAP"),
    Flag("--image-size", "data.image_size", "square size images are cropped/resized to"),
    Flag("--batch-size", "data.batch_size", "images per optimiser step (the LR scales with it)"),
    Flag("--epochs", "train.epochs", "passes over the data"),
    Flag("--max-steps", "train.max_steps", "cap on optimiser steps (at least 1; leave out for no cap)"),
    Flag("--time-budget", "train.time_budget_s", "plan the steps so that warmup, LR and τ schedules end after this "
         "much training, e.g. 25m, 1h30m or 1500 (seconds); measured over the first steps; --epochs and --max-steps "
         "stay upper limits", metavar="DURATION", parse=parse_duration),
    Flag("--device", "train.device", "auto, cpu, cuda or cuda:N"),
    Flag("--seed", "train.seed", "random seed"),
    Flag("--skip-bad", "data.skip_bad", "skip unreadable images instead of stopping (they are counted in the log)"),
    Flag("--monitor-data", "monitor.data", "a small labelled set (class subfolders, .npz, or a folder with "
         "--monitor-labels): its k-NN accuracy with the online encoder's features is logged to metrics.csv as "
         "knn_acc while training"),
    Flag("--monitor-labels", "monitor.labels", "a path,label CSV / split file for --monitor-data"),
    Flag("--monitor-card", "monitor.card", "data card of --monitor-data (default: detected)"),
    Flag("--monitor-every", "monitor.every", "steps between k-NN checks (one at the end too)"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="pretrain an encoder with BYOL on unlabeled images",
                       description=__doc__)
    p.add_argument("--config", help="recipe name (see `byol-transfer recipes`) or YAML file "
                                    "(a recipe, or a run config.yaml); with --resume: the run's own")
    p.add_argument("--out", required=True, type=Path, help="run folder to write")
    add_flags(p, PretrainConfig, FLAGS, config_file=False)  # --config above is a recipe or a run config
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from last.ckpt, with the config stored in it")
    p.add_argument("--allow-config-change", action="store_true",
                   help="with --resume: accept flags that change the training trajectory (batch size and so "
                        "the LR scale, learning rate, schedule, seed, recipe); the new LR scale is logged")
    p.add_argument("--stop-after-steps", type=positive_int,
                   help="pause after this many steps without changing the schedule (resume later)")


def base_config(args: argparse.Namespace) -> tuple[dict, str]:
    """The config to start from: on --resume the checkpoint's own (config.yaml may be gone or cut short)."""
    checkpoint = args.out / CHECKPOINT_NAME
    if args.resume and checkpoint.is_file():
        if args.config:  # as before: a resumed run keeps its own config; flags and --set are compared with it
            log.info("--resume: using the config stored in %s, not --config %s", checkpoint, args.config)
        return load_checkpoint(checkpoint, lazy=True)["config"], f"{checkpoint} (its config)"
    stored = args.out / "config.yaml"
    if args.resume and stored.is_file():
        try:
            return read_yaml(stored), str(stored)
        except UserError as e:
            if not args.config:
                raise UserError(f"--resume: {e}; no checkpoint in {args.out} holds a config either: "
                                "pass --config to start again") from None
            log.warning("--resume: %s; starting from --config %s", e, args.config)
    if args.config:
        return config_source(args.config)
    if args.resume:
        interrupted = "no checkpoint was completed; the first save was interrupted" \
            if stale_temps(args.out, CHECKPOINT_NAME) else f"no checkpoint and no config.yaml in {args.out}"
        raise UserError(f"--resume: {interrupted}; pass --config (and --data) to start the run again")
    raise UserError("--config is required (a recipe name such as natural_rgb, or a YAML file)")


def run(args: argparse.Namespace) -> int:
    base, where = base_config(args)
    cfg = resolve_config(base, where, flag_values(args, FLAGS), args.sets)
    if not cfg.data.path:
        raise UserError("--data is required: a folder of images")
    check_before_data(cfg, args.resume)  # backbone, device, channels from a header: seconds, not minutes
    # data that fit in memory are decoded once (docs/benchmarks.md: reading tiles from disk every epoch
    # costs 20-70% of a resnet18 64 px step on 2 cores, indexing memory ~1%)
    count = cfg.recipe.channels.count  # a 1-channel recipe reads grey images stored as RGB as one channel
    if is_shard_spec(cfg.data.path) and cfg.data.bands:
        raise UserError("--bands: shards hold the bands they were packed with; choose bands when packing "
                        "(prepare shards --bands)")
    if is_shard_spec(cfg.data.path):  # streamed, split over ranks and workers (data/shards/stream.py)
        dataset = build_shard_stream(cfg.data.path, seed=cfg.train.seed, shuffle_buffer=cfg.data.shuffle_buffer,
                                     skip_bad=cfg.data.skip_bad, image_size=cfg.data.image_size, card=cfg.data.card)
    else:
        dataset = build_dataset(cfg.data.path, cfg.data.image_size, card=cfg.data.card, extensions=cfg.data.extensions,
                                skip_bad=cfg.data.skip_bad, cache="auto", bands=parse_bands(cfg.data.bands),
                                want_channels=count if isinstance(count, int) else None)
    if dataset.card is not None:  # the card's value scaling and stats, unless --set chose a scaling
        apply_card(cfg.recipe, dataset.card, keep_scaling=any(s.startswith("recipe.scaling") for s in args.sets))
    in_chans = cfg.model.in_chans or dataset.in_chans
    main_process = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 alone monitors and reports
    monitor = None
    if main_process:
        monitor = build_monitor(cfg.monitor, cfg.recipe, cfg.data.image_size, in_chans,
                                resolve_device(cfg.train.device))
    result = pretrain(cfg, dataset, args.out, resume=args.resume, stop_after_steps=args.stop_after_steps,
                      monitor=monitor, allow_config_change=args.allow_config_change,
                      progress=not getattr(args, "quiet", False))  # -q: warnings and errors only, no progress bar
    if main_process:
        print(f"pretrained {result.steps} steps, final loss {result.final_loss:.4f}; checkpoint {result.checkpoint}")
    return 0
