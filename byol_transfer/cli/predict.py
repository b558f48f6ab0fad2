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

from ..config.flags import Flag, add_flags
from ..config.predict import PredictConfig
from ..config.resolve import resolve, write_resolved
from ..data.bands import parse_bands

FLAGS = [
    Flag("--model", "model", "model folder written by byol-transfer segment", required=True),
    Flag("--data", "data", "an image file or a folder of images", required=True),
    Flag("--bands", "bands", "bands of the new images to use, as the model was trained on them: 1-based numbers or "
         "names (GeoTIFF band descriptions), e.g. 4,3,2 or B04,B03,B02"),
    Flag("--overlap", "overlap", "overlap between neighbouring tiles, as a fraction of the tile size"),
    Flag("--batch-size", "batch_size", "tiles per forward pass"),
    Flag("--device", "device", "auto, cpu, cuda or cuda:N"),
    Flag("--skip-bad", "skip_bad", "skip unreadable or damaged images (counted in the log; no mask is written for "
         "them) instead of stopping"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict masks (GeoTIFF/PNG) with a trained segmentation model",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output folder for the masks")
    p.add_argument("--no-progress", action="store_true")
    add_flags(p, PredictConfig, FLAGS)


def run(args: argparse.Namespace) -> int:
    from ..train.loop import resolve_device
    from ..transfer.tasks.segmentation.predict import predict_folder

    cfg = resolve(PredictConfig, args, FLAGS)
    written = predict_folder(Path(cfg.model), Path(cfg.data), args.out, overlap=cfg.overlap,
                             batch_size=cfg.batch_size, device=resolve_device(cfg.device),
                             progress=not args.no_progress, skip_bad=cfg.skip_bad, bands=parse_bands(cfg.bands))
    write_resolved(cfg, args.out)
    print(f"wrote {len(written)} mask(s) to {args.out}")
    return 0
