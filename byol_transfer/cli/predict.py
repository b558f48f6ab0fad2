"""byol-transfer predict: masks for new images with a model trained by `byol-transfer segment`.

--model is a model folder (model.safetensors + model.json), or a `segment --out` folder that holds one.
--data is an image file or a folder (searched recursively; the images/ of a segmentation folder).
Images of any size are predicted at their own resolution in overlapping tiles of the training size,
blended. GeoTIFF inputs give GeoTIFF masks with the same CRS and transform; other inputs give PNGs.
Mask pixels are class indices (0, 1, ...; the order of "classes" in model.json).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict masks (GeoTIFF/PNG) with a trained segmentation model",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path, help="model folder written by byol-transfer segment")
    p.add_argument("--data", required=True, type=Path, help="an image file or a folder of images")
    p.add_argument("--out", required=True, type=Path, help="output folder for the masks")
    p.add_argument("--overlap", type=arguments.number(float, ge=0, lt=1), default=0.25,
                   help="overlap between neighbouring tiles, as a "
                   "fraction of the tile size (default 0.25)")
    p.add_argument("--batch-size", type=arguments.positive_int, default=8, help="tiles per forward pass")
    p.add_argument("--device", type=arguments.device, default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable or damaged images (counted in the log; no mask is written for them) "
                        "instead of stopping")
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..transfer.tasks.segmentation.predict import predict_folder
    from ..train.loop import resolve_device

    written = predict_folder(args.model, args.data, args.out, overlap=args.overlap, batch_size=args.batch_size,
                             device=resolve_device(args.device), progress=not args.no_progress,
                             skip_bad=args.skip_bad)
    print(f"wrote {len(written)} mask(s) to {args.out}")
    return 0
