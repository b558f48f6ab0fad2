"""Additive Gaussian noise drawn only for the selected samples, replayable from a stored seed.

Kornia's ``RandomGaussianNoise`` draws a noise tensor the size of the whole batch (13.6 M values for 256
Sentinel-2 tiles of 64 px), stores it in its parameters, adds it everywhere and blends the skipped samples
back: on our 2-core CPU that was the slowest op of the multispectral recipe. Here the parameters hold one
seed per sample; a selected sample's noise is drawn from a generator seeded with it on the input's device,
so replaying the parameters reproduces the output exactly and nothing image-sized is stored.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from kornia.augmentation import IntensityAugmentationBase2D

from . import register_op
from ._selected import PRIVATE_INPUT, SelectedSamples


class RandomGaussianNoise(SelectedSamples, IntensityAugmentationBase2D):
    """x + N(0, std²), independently per pixel, band and sample (with probability ``p`` per sample)."""

    per_sample_params = ("noise_seed",)

    def __init__(self, std: float = 0.02, p: float = 0.5, keepdim: bool = False) -> None:
        super().__init__(p=p, same_on_batch=False, keepdim=keepdim)
        if std < 0:
            raise ValueError(f"std must be non-negative, got {std}")
        self.std = float(std)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
        # one seed per sample, drawn from torch's global generator (torch.manual_seed reproduces the views);
        # the noise of a sample then does not depend on which other samples were selected or on chunking
        return {"noise_seed": torch.randint(0, 2**62, (batch_shape[0],))}

    def apply_transform(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        generator = torch.Generator(device=input.device)
        noise = torch.empty_like(input)
        for row, seed in enumerate(params["noise_seed"].tolist()):
            generator.manual_seed(seed)
            torch.randn(input.shape[1:], generator=generator, device=input.device, dtype=input.dtype,
                        out=noise[row])
        if flags.get(PRIVATE_INPUT):
            return input.add_(noise, alpha=self.std)
        return noise.mul_(self.std).add_(input)


@register_op("gaussian_noise")
def gaussian_noise(image_size: int, in_chans: int, p: float = 0.5, std: float = 0.02) -> RandomGaussianNoise:
    """Add zero-mean Gaussian noise with standard deviation ``std`` (in scaled units)."""
    return RandomGaussianNoise(std=float(std), p=p)
