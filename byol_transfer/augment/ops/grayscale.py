"""RGB grayscale: luma replicated to 3 channels, computed only for the samples the gate picked.

Same output as ``kornia.augmentation.RandomGrayscale`` on RGB (checked in tests), which computes the whole
batch and then keeps 20% of it.
"""

from __future__ import annotations

from . import register_op
from .band_grayscale import RandomBandGrayscale
from .color_jitter import LUMA


@register_op("grayscale", channels="rgb")
def grayscale(image_size: int, in_chans: int, p: float = 0.2) -> RandomBandGrayscale:
    """Luma grayscale replicated to 3 channels (RGB only; other data use band_grayscale)."""
    return RandomBandGrayscale(LUMA, p=p)
