"""byol-transfer preview: a grid of original images and both augmented views (what the network will see).

Rows are images, columns original | view 1 | view 2, before normalisation. Multispectral data are shown as
a false-colour composite (--rgb-bands, else the data card's rgb_bands, else bands 1,2,3), stretched
between the 2nd and 98th percentile of the originals.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import torch

from ..augment.preview import write_preview
from ..augment.recipes import recipe_from_dict
from ..data.build import build_dataset
from ..data.recipe_card import apply_card
from ..data.resize import resize_to_square
from ..errors import UserError
from ..train.run_config import config_source
from ..config.flags import Flag, add_flags
from ..config.preview import PreviewConfig
from ..config.resolve import resolve


FLAGS = [
    Flag("--config", "recipe", "recipe name (see `byol-transfer recipes`), recipe YAML or run config.yaml",
         required=True),
    Flag("--data", "data", "folder of images, .npz archive or GeoTIFF scene", required=True),
    Flag("--n", "n", "number of images (rows)"),
    Flag("--rgb-bands", "rgb_bands", "bands shown as red,green,blue: 1-based numbers or band names, e.g. 4,3,2 or "
         "B04,B03,B02 (one band: grayscale)"),
    Flag("--image-size", "image_size", "training image size (default: the first image's shorter side)"),
    Flag("--card", "card", "data card (default: detected from the data); supplies scaling and stats"),
    Flag("--seed", "seed", "random seed for the views"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preview", help="write a grid of images and their two augmented views",
                       description=__doc__)
    p.add_argument("--out", required=True, type=Path, help="image to write (.png or .jpg)")
    # --config is the recipe here (as in pretrain), so the settings come from flags and --set only
    add_flags(p, PreviewConfig, FLAGS, config_file=False)


def run(args: argparse.Namespace) -> int:
    cfg = resolve(PreviewConfig, args, FLAGS)
    data, where = config_source(cfg.recipe)
    recipe = recipe_from_dict(data["recipe"], where)
    dataset = build_dataset(Path(cfg.data), cfg.image_size, card=cfg.card)
    if dataset.card is not None:
        apply_card(recipe, dataset.card)
    images = pick_images(dataset, cfg.n, cfg.image_size)
    band_names = getattr(dataset, "band_names", None) or recipe.channels.names
    rgb = cfg.rgb_bands or (",".join(dataset.card.rgb_bands) if dataset.card and dataset.card.rgb_bands else None)
    bands = parse_bands(rgb, images.shape[1], band_names)
    width, height = write_preview(args.out, recipe, images, bands, seed=cfg.seed)
    print(f"wrote {args.out} ({width}×{height} px): {images.shape[0]} images × (original, view 1, view 2)")
    return 0


def pick_images(dataset, n: int, size: int | None) -> torch.Tensor:  # noqa: ANN001 (any sample dataset)
    """``n`` images spread evenly over the dataset, as one N×C×S×S batch in the stored dtype."""
    total = len(dataset)
    if total == 0:
        raise UserError("the data hold no images")
    n = min(n, total)
    picks = sorted({round(i * (total - 1) / max(n - 1, 1)) for i in range(n)})
    images = [dataset[i]["image"] for i in picks]
    size = size or min(images[0].shape[-2:])
    return torch.stack([resize_to_square(im, size) for im in images])


def parse_bands(text: str | None, in_chans: int, names: Sequence[str] | None) -> list[int] | None:
    """'4,3,2' (1-based) or 'B04,B03,B02' (names) → 0-based indices; None: the default choice."""
    if not text:
        if names and {"red", "green", "blue"} <= {n.lower() for n in names} and in_chans != 3:
            lower = [n.lower() for n in names]
            return [lower.index(c) for c in ("red", "green", "blue")]
        return None
    out = []
    for item in (t.strip() for t in text.split(",")):
        if item.isdigit():
            number = int(item)
            if not 1 <= number <= in_chans:
                raise UserError(f"--rgb-bands: band {number} does not exist in {in_chans}-band data (1..{in_chans})")
            out.append(number - 1)
        elif names and item in names:
            out.append(list(names).index(item))
        else:
            known = f"; band names: {', '.join(names)}" if names else ""
            raise UserError(f"--rgb-bands: {item!r} is neither a band number nor a band name{known}")
    if len(out) not in (1, 3):
        raise UserError(f"--rgb-bands {text!r}: give 3 bands (red,green,blue) or 1 (grayscale)")
    return out
