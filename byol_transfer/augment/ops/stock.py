"""Stock Kornia ops, wrapped so a recipe can name them. Parameters follow Kornia's names.

All run batched with per-sample random parameters (Kornia's default ``same_on_batch=False``).
"""

from __future__ import annotations

import kornia.augmentation as K

from . import register_op


def _pair(value: float | list[float]) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    low, high = value
    return (float(low), float(high))


@register_op("random_resized_crop", geometric=True)
def random_resized_crop(
    image_size: int,
    in_chans: int,
    p: float = 1.0,
    scale: list[float] = (0.08, 1.0),
    ratio: list[float] = (3 / 4, 4 / 3),
) -> K.RandomResizedCrop:
    """Crop a random area (fraction ``scale``, aspect ``ratio``) and resize it to the training size."""
    return K.RandomResizedCrop(
        size=(image_size, image_size), scale=_pair(scale), ratio=_pair(ratio), p=p
    )


@register_op("horizontal_flip", geometric=True)
def horizontal_flip(image_size: int, in_chans: int, p: float = 0.5) -> K.RandomHorizontalFlip:
    """Mirror left-right."""
    return K.RandomHorizontalFlip(p=p)


@register_op("vertical_flip", geometric=True)
def vertical_flip(image_size: int, in_chans: int, p: float = 0.5) -> K.RandomVerticalFlip:
    """Mirror top-bottom (fine from orbit and under a microscope, wrong for chest X-rays)."""
    return K.RandomVerticalFlip(p=p)


@register_op("rotate90", geometric=True)
def rotate90(image_size: int, in_chans: int, p: float = 1.0) -> K.RandomRotation90:
    """Rotate by 0, 90, 180 or 270 degrees, chosen per sample."""
    return K.RandomRotation90(times=(0, 3), p=p)


@register_op("rotation", geometric=True)
def rotation(image_size: int, in_chans: int, p: float = 0.5, degrees: float = 10.0) -> K.RandomRotation:
    """Rotate by a small random angle in [-degrees, degrees]."""
    return K.RandomRotation(degrees=float(degrees), p=p)


@register_op("color_jitter", channels="rgb")
def color_jitter(
    image_size: int,
    in_chans: int,
    p: float = 0.8,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.2,
    hue: float = 0.1,
) -> K.ColorJitter:
    """Brightness, contrast, saturation and hue jitter (RGB only: hue is undefined for other bands)."""
    return K.ColorJitter(brightness, contrast, saturation, hue, p=p)


@register_op("grayscale", channels="rgb")
def grayscale(image_size: int, in_chans: int, p: float = 0.2) -> K.RandomGrayscale:
    """Luma grayscale replicated to 3 channels (RGB only)."""
    return K.RandomGrayscale(p=p)


@register_op("gaussian_blur")
def gaussian_blur(
    image_size: int,
    in_chans: int,
    p: float = 1.0,
    sigma: list[float] = (0.1, 2.0),
    kernel_size: int | None = None,
) -> K.RandomGaussianBlur:
    """Gaussian blur with σ drawn per sample; the kernel defaults to ~10% of the image, odd."""
    if kernel_size is None:
        kernel_size = max(3, int(0.1 * image_size) // 2 * 2 + 1)
    return K.RandomGaussianBlur(kernel_size=kernel_size, sigma=_pair(sigma), p=p)


@register_op("solarize", needs_unit_range=True)
def solarize(image_size: int, in_chans: int, p: float = 0.2, threshold: float = 0.5) -> K.RandomSolarize:
    """x ↦ 1 − x above ``threshold`` (values must lie in [0, 1])."""
    # Kornia samples the threshold from 0.5 ± thresholds; BYOL uses a fixed 0.5.
    return K.RandomSolarize(thresholds=(float(threshold), float(threshold)), additions=0.0, p=p)


@register_op("brightness")
def brightness(image_size: int, in_chans: int, p: float = 0.8, factor: float = 0.2) -> K.RandomBrightness:
    """Add the same random offset in [-factor, factor] to every channel (any channel count)."""
    return K.RandomBrightness(brightness=(1 - factor, 1 + factor), clip_output=False, p=p)


@register_op("contrast")
def contrast(image_size: int, in_chans: int, p: float = 0.8, factor: float = 0.2) -> K.RandomContrast:
    """Scale every channel by the same random factor in [1 - factor, 1 + factor] (any channel count)."""
    return K.RandomContrast(contrast=(1 - factor, 1 + factor), clip_output=False, p=p)


@register_op("gaussian_noise")
def gaussian_noise(image_size: int, in_chans: int, p: float = 0.5, std: float = 0.02) -> K.RandomGaussianNoise:
    """Add zero-mean Gaussian noise with standard deviation ``std`` (in scaled units)."""
    return K.RandomGaussianNoise(mean=0.0, std=float(std), p=p)
