"""Config mistakes found before any data are decoded: pretraining a big folder must not end in "unknown backbone".

What can be checked from the config and a file header alone is checked here, in seconds: the backbone name
(timm's registry), the device, and the recipe's channel count against the channel count a data card
declares or the first image's header states. Recipe ops and ``--set`` values were already checked when the
config was built (``run_config.resolve_config``). The full checks run again on the decoded data.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..augment.recipes import check_channels
from ..config import PretrainConfig
from ..data.badfiles import BadFileError
from ..data.build import resolve_card
from ..data.image_folder import first_image
from ..data.readers import probe_image
from ..data.shards import is_shard_spec, resolve_shards
from ..models.backbones import check_backbone_name
from .loop import check_model_channels, resolve_device

log = logging.getLogger(__name__)

# Layouts whose first file's header tells the channel count of every sample.
_HEADER_LAYOUTS = ("image_folder", "geotiff_tiles", "dicom_folder")


def check_before_data(cfg: PretrainConfig) -> None:
    check_backbone_name(cfg.model.backbone, "model.backbone")
    resolve_device(cfg.train.device)
    channels = declared_channels(cfg.data.path if is_shard_spec(cfg.data.path) else Path(cfg.data.path), cfg.data.card)
    # 3 identical channels (grey stored as RGB) may still become 1 in the data layer: decided on the pixels
    if channels is None or (channels == 3 and cfg.recipe.channels.accepts(1)):
        return
    check_channels(cfg.recipe, channels)
    check_model_channels(cfg, channels, cfg.data.path)


def declared_channels(path: Path | str, card: str | None) -> int | None:
    """The channel count a data card or the first image's header gives, or None when it takes decoding."""
    if is_shard_spec(path):  # shards: their index says (and a bad spec is named here, before anything runs)
        return int(resolve_shards(str(path)).index.channels)
    chosen, layout = resolve_card(path, card)
    if chosen is not None and chosen.channels:
        return int(chosen.channels)
    if layout not in _HEADER_LAYOUTS or not path.is_dir():
        return None
    try:
        return probe_image(first_image(path)).channels
    except BadFileError:  # a bad first file is reported (or skipped, --skip-bad) by the full scan
        return None
