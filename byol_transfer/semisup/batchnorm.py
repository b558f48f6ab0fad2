"""BatchNorm running statistics that describe evaluation-like inputs only.

Evaluation normalises with the running statistics, so they should come from images that look like the
test images: the labelled batch and the weak views. A strong view (colour jitter, grayscale, blur,
solarize, a photometric shift the recipe declares label-preserving) is normalised with its own batch
statistics as usual but leaves the running ones alone. Otherwise the last forward pass of every step, the
strongly augmented one, would set them (momentum 0.1 forgets the rest within a few steps) and the model
would be evaluated with statistics of images it is never shown at test time.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn


@contextmanager
def running_stats_frozen(model: nn.Module) -> Iterator[None]:
    """Within the block, BatchNorm layers in training mode use batch statistics but do not update
    their running mean/variance (momentum 0: running ← 1·running + 0·batch)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
