"""A stronger random-init baseline: torchvision's ResNet initialisation, for any timm model.

Why: timm's ResNets zero-initialise the last BatchNorm γ of every residual block (``zero_init_last`` in
``timm/models/resnet.py`` ``ResNet.init_weights``, which calls each block's ``zero_init_last()``), so at
init each block is the identity and frozen random features come from the stem and the downsampling
shortcuts only. That helps training from scratch but makes a weak frozen baseline: on EuroSAT RGB a
torchvision-style random init probes 4-6 points better (linear probe, 1 and 10 % labels). Pretraining
should be measured against both.

:func:`kaiming_init` re-initialises a built model in place, module by module:

- ``Conv1d/2d/3d``: ``kaiming_normal_(mode="fan_out", nonlinearity="relu")``, bias 0 (torchvision ResNet);
- BatchNorm / GroupNorm / LayerNorm (timm's ``BatchNormAct2d``, ``LayerNorm2d`` included): γ 1, β 0,
  running statistics reset (torchvision ResNet; no zero-init of any residual branch);
- ``Linear``: PyTorch's default ``reset_parameters()`` (He-uniform, a=√5: U(±1/√fan_in); bias
  U(±1/√fan_in)), which is what torchvision's ResNet leaves its only Linear (the classifier) with;
- layer-scale γ (timm ``LayerScale``/``LayerScale2d``, ConvNeXt's block ``gamma``): 1. This is the
  transformer/ConvNeXt analogue of the zero BN γ: timm starts them at 1e-5/1e-6, i.e. every block
  nearly the identity; γ = 1 is the plain ViT / ConvNeXt block without that trick;
- free parameters of two or more dimensions (ViT ``pos_embed``, ``cls_token``, register tokens, relative
  position tables): trunc-normal, std 0.02, as timm's and torchvision's ViTs draw position embeddings.

So for a ViT (no BatchNorm): He-uniform Linear layers, He-normal patch embedding, LayerNorm γ 1 β 0,
layer scale 1, embeddings at 0.02. Any other parameter (rare: a custom norm's own 1-D weights) keeps the
value the model was built with, which in timm is a constant.

Seeded and side-effect free: the draws come from a forked RNG seeded from ``seed``, so the same seed
gives the same weights, and the caller's global RNG state is left exactly as it was.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd

NORMS = (_NormBase, nn.GroupNorm, nn.LayerNorm)  # _NormBase: BatchNorm*d, InstanceNorm*d, SyncBatchNorm
EMBEDDING_STD = 0.02


def kaiming_init(model: nn.Module, seed: int | torch.Generator = 0) -> nn.Module:
    """Re-initialise ``model`` in place as documented above; returns it.

    ``seed``: an int, or a ``torch.Generator`` from which one seed is drawn (the generator advances).
    """
    if isinstance(seed, torch.Generator):
        seed = int(torch.randint(0, 2**62, (), generator=seed))
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        handled: set[int] = set()
        for module in model.modules():  # fixed order: the same draws for the same architecture
            if isinstance(module, _ConvNd):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, NORMS):
                if isinstance(module, _NormBase) and module.track_running_stats:
                    module.reset_running_stats()
                if getattr(module, "weight", None) is not None:
                    nn.init.ones_(module.weight)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                module.reset_parameters()
            else:
                continue
            handled.update(id(p) for p in module.parameters(recurse=False))
        for module in model.modules():
            for name, param in module.named_parameters(recurse=False):
                if id(param) in handled:
                    continue
                if name == "gamma" and param.ndim == 1:  # layer scale
                    nn.init.ones_(param)
                elif param.ndim >= 2:
                    nn.init.trunc_normal_(param, std=EMBEDDING_STD, a=-2 * EMBEDDING_STD, b=2 * EMBEDDING_STD)
    return model
