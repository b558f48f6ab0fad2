"""Augmentation previews: a grid of original images and both BYOL views, so a user can look at what the
network will see before spending hours of compute on it.

Columns are original | view 1 | view 2, one row per image. Values are shown before normalisation. Photos
(1 or 3 channels, ``auto`` scaling) and windowed CT are shown as they are; anything else (reflectance,
more than three bands) as a false-colour composite of three chosen bands, stretched between the 2nd and
98th percentile of the *originals*, band by band. The same stretch is applied to the views, so brightness
and contrast jitter stay visible instead of being stretched away.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..config import RecipeConfig
from ..errors import UserError
from ..io import atomic_write_bytes
from .recipes import build_two_views, check_channels
from .scaling import ValueScaling

PAD = 2  # px between tiles and around the grid
BACKGROUND = (40, 40, 40)
_TRUE_VALUES = ("auto", "ct_window", "percentile_clip")  # scalings that give displayable [0, 1] values


MIN_CELL = 96  # px: smaller images (MedMNIST's 28 px) are enlarged by a whole factor so a person can look


def upscale_factor(size: int) -> int:
    """The whole factor (nearest neighbour: no invented detail) that makes a cell at least MIN_CELL px."""
    return max(1, -(-MIN_CELL // size))


def grid_size(n: int, size: int) -> tuple[int, int]:
    """(width, height) in pixels of the grid for ``n`` images of ``size`` × ``size``."""
    cell = size * upscale_factor(size)
    return 3 * cell + 4 * PAD, n * cell + (n + 1) * PAD


def display_bands(in_chans: int, rgb_bands: Sequence[int] | None) -> list[int]:
    """0-based indices of the channels to show as red, green, blue (one index: grayscale)."""
    if rgb_bands is not None:
        bands = list(rgb_bands)
        if len(bands) not in (1, 3) or any(not 0 <= b < in_chans for b in bands):
            shown = ",".join(str(b + 1) for b in bands)
            raise UserError(f"--rgb-bands {shown}: need 1 or 3 band numbers between 1 and {in_chans}")
        return bands
    if in_chans in (1, 3):
        return list(range(in_chans))
    if in_chans == 2:
        return [0]
    return [0, 1, 2]


def render_views(
    recipe: RecipeConfig, images: torch.Tensor, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Raw N×C×S×S images → (originals, view 1, view 2), all scaled but not normalised, on the CPU."""
    n, channels, height, width = images.shape
    if height != width:
        raise ValueError(f"preview images must be square, got {height}×{width}")
    check_channels(recipe, channels)
    views = build_two_views(recipe, height, channels, images.dtype)
    torch.manual_seed(seed)
    with torch.no_grad():
        x = views.scaling(images)
        view1, view2 = views.view1(x), views.view2(x)
        originals = ValueScaling(recipe.scaling, channels)(images)
    return originals, view1, view2


def to_rgb8(
    batches: Sequence[torch.Tensor], bands: Sequence[int], stretch: bool
) -> list[np.ndarray]:
    """Each N×C×H×W batch → N×H×W×3 uint8, with one display range per band taken from ``batches[0]``."""
    chosen = [b[:, list(bands)].float() for b in batches]
    if stretch:
        flat = chosen[0].transpose(0, 1).reshape(len(bands), -1)
        flat = flat[:, :: max(1, flat.shape[1] // 1_000_000)]  # torch.quantile refuses > 16 M values
        finite = torch.nan_to_num(flat, nan=0.0)
        low = torch.quantile(finite, 0.02, dim=1).view(1, -1, 1, 1)
        high = torch.quantile(finite, 0.98, dim=1).view(1, -1, 1, 1)
        span = (high - low).clamp(min=1e-12)
        chosen = [(c - low) / span for c in chosen]
    out = []
    for c in chosen:
        c = torch.nan_to_num(c, nan=0.0).clamp(0.0, 1.0)
        if c.shape[1] == 1:
            c = c.expand(-1, 3, -1, -1)
        out.append((c * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return out


def preview_grid(
    recipe: RecipeConfig,
    images: torch.Tensor,
    rgb_bands: Sequence[int] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The preview as an H×W×3 uint8 array (see :func:`grid_size`)."""
    originals, view1, view2 = render_views(recipe, images, seed)
    channels = images.shape[1]
    bands = display_bands(channels, rgb_bands)
    kind = recipe.scaling.kind
    displayable = kind in _TRUE_VALUES and (kind != "auto" or images.dtype in (torch.uint8, torch.uint16))
    stretch = not (displayable and channels in (1, 3) and len(bands) == channels)
    columns = to_rgb8([originals, view1, view2], bands, stretch)
    n, factor = images.shape[0], upscale_factor(images.shape[-1])
    size = images.shape[-1] * factor
    if factor > 1:
        columns = [[tile.repeat(factor, axis=0).repeat(factor, axis=1) for tile in tiles] for tiles in columns]
    width, height = grid_size(n, images.shape[-1])
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    for row in range(n):
        top = PAD + row * (size + PAD)
        for col, tiles in enumerate(columns):
            left = PAD + col * (size + PAD)
            canvas[top : top + size, left : left + size] = tiles[row]
    return canvas


def write_preview(
    path: str | Path,
    recipe: RecipeConfig,
    images: torch.Tensor,
    rgb_bands: Sequence[int] | None = None,
    seed: int = 0,
) -> tuple[int, int]:
    """Render the preview and write it atomically (format from the suffix: .png, .jpg); returns (w, h)."""
    from PIL import Image

    path = Path(path)
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
    if path.suffix.lower() not in formats:
        raise UserError(f"--out {path}: write a .png or .jpg file")
    canvas = preview_grid(recipe, images, rgb_bands, seed)
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format=formats[path.suffix.lower()])
    atomic_write_bytes(path, buffer.getvalue())
    return canvas.shape[1], canvas.shape[0]
