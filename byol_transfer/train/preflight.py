"""Config mistakes found before any data are decoded: pretraining a big folder must not end in "unknown backbone".

What can be checked from the config and a file header alone is checked here, in seconds: the backbone name
(timm's registry), the device, the local crops' size against the image size, and the recipe's channel
count against the channel count a data card declares or the first image's header states. Recipe ops and
``--set`` values were already checked when the config was built (``run_config.resolve_config``). The full
checks run again on the decoded data.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..augment.recipes import check_channels, local_crop_size
from ..config import PretrainConfig
from ..data.bands import parse_bands
from ..data.discover import discover_local
from ..data.shards import is_shard_spec, resolve_shards
from ..errors import UserError
from ..models.backbones import check_backbone_name
from .loop import check_model_channels, resolve_device

log = logging.getLogger(__name__)

# Layouts whose first file's header tells the channel count of every sample.
_HEADER_LAYOUTS = ("image_folder", "geotiff_tiles", "dicom_folder")


def check_before_data(cfg: PretrainConfig, resume: bool = False) -> None:
    check_backbone_name(cfg.model.backbone, "model.backbone")
    resolve_device(cfg.train.device)
    if cfg.recipe.local_crops.number:
        local_crop_size(cfg.recipe, cfg.data.image_size)  # local crops larger than the views: refused now
    if cfg.model.init and not resume and not Path(cfg.model.init).is_file():
        raise UserError(f"--init {cfg.model.init}: weights file not found")
    if cfg.model.band_map and not cfg.model.init:
        raise UserError("--band-map needs --init (the weights whose first conv it adapts)")
    channels = declared_channels(cfg.data.path if is_shard_spec(cfg.data.path) else Path(cfg.data.path), cfg.data.card)
    if cfg.data.bands and channels is not None:  # the bands kept, not the file's (names are resolved when read)
        channels = len(parse_bands(cfg.data.bands))
    # 3 identical channels (grey stored as RGB) may still become 1 in the data layer: decided on the pixels
    if channels is None or (channels == 3 and cfg.recipe.channels.accepts(1)):
        return
    check_channels(cfg.recipe, channels)
    check_model_channels(cfg, channels, cfg.data.path)


def declared_channels(path: Path | str, card: str | None) -> int | None:
    """The channel count a data card or the first image's header gives, or None when it takes decoding."""
    if is_shard_spec(path):  # shards: their index says (and a bad spec is named here, before anything runs)
        return int(resolve_shards(str(path)).index.channels)
    found = discover_local(Path(path), card)
    if found.card is not None and found.card.channels:
        return int(found.card.channels)
    if found.layout not in _HEADER_LAYOUTS or not Path(path).is_dir():
        return None
    # the first training image's header, read once by the discovery; None when it was unreadable (a bad
    # first file is reported, or skipped with --skip-bad, by the full scan)
    return found.header.channels if found.header is not None else None
