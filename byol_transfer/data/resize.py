"""Fixed-size images on the CPU: shorter side to ``size``, then a centre crop; masks follow exactly.

Only geometry happens here (so DataLoader batches stack); value scaling waits for the device.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

# Images whose shorter side is below this share of the image size are upscaled more than 2×: worth a
# warning (a 1×1 thumbnail among 64-px tiles becomes a flat square the model learns nothing from).
UPSCALE_WARN_SHARE = 0.5


def _target(h: int, w: int, size: int) -> tuple[int, int]:
    scale = size / min(h, w)
    return max(size, round(h * scale)), max(size, round(w * scale))


def _centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


def resize_to_square(image: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize so the shorter side is ``size`` (antialiased), then centre-crop to size × size.

    Keeps the input dtype: integer images are rounded and clamped back to their range. ``None`` keeps
    the image as it is (for statistics over native pixels).
    """
    if size is None:
        return image
    _, h, w = image.shape
    if h == size and w == size:
        return image
    if min(h, w) != size:
        new_h, new_w = _target(h, w, size)
        resized = F.interpolate(
            image[None].float(), size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )[0]
        if not image.dtype.is_floating_point:
            info = torch.iinfo(image.dtype)
            resized = resized.round().clamp(info.min, info.max)
        image = resized.to(image.dtype)
    return _centre_crop(image, size)


def resize_mask_to_square(mask: torch.Tensor, size: int | None) -> torch.Tensor:
    """The same geometry as :func:`resize_to_square` for an H×W class mask, nearest neighbour."""
    if size is None:
        return mask
    h, w = mask.shape
    if h == size and w == size:
        return mask
    if min(h, w) != size:
        new_h, new_w = _target(h, w, size)
        mask = F.interpolate(mask[None, None].float(), size=(new_h, new_w), mode="nearest-exact")[0, 0].long()
    return _centre_crop(mask, size)


class UpscaleLog:
    """Collects images much smaller than the image size during a header scan; one summary warning line."""

    def __init__(self, image_size: int | None) -> None:
        self.image_size = image_size
        self.small: list[Path] = []

    def add(self, path: Path, info) -> None:  # noqa: ANN001 (formats.types.ImageInfo)
        if self.image_size and min(info.height, info.width) < UPSCALE_WARN_SHARE * self.image_size:
            self.small.append(Path(path))

    def report(self, total: int) -> None:
        if not self.small:
            return
        names = ", ".join(p.name for p in self.small[:5]) + (", ..." if len(self.small) > 5 else "")
        log.warning("%d of %d images are smaller than %d px (half the %d-px image size) and are upscaled "
                    "more than 2x: %s", len(self.small), total, int(UPSCALE_WARN_SHARE * self.image_size),
                    self.image_size, names)
