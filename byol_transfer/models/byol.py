"""BYOL: an online network (encoder → projector → predictor) and a separate target network.

The target (encoder → projector) is a deep copy made once, with ``requires_grad=False``, and changes
only through :meth:`BYOL.update_target`: TorchGeo's BYOL wrapped the *same* module for years, which
made the "target" the online network itself (fixed in TorchGeo PR #3954).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .ema import ema_update_
from .heads import MLPHead
from .losses import byol_multicrop_loss


@dataclass
class BYOLOutput:
    loss: torch.Tensor
    online_projection: torch.Tensor  # detached, both global views stacked: for the collapse monitor


class BYOL(nn.Module):
    def __init__(
        self,
        encoder: nn.Module,
        feature_dim: int,
        projector_hidden: int = 4096,
        projector_out: int = 256,
        predictor_hidden: int = 4096,
        view_batchnorm: Literal["joint", "separate"] = "joint",
    ) -> None:
        super().__init__()
        if view_batchnorm not in ("joint", "separate"):
            raise ValueError(f"view_batchnorm must be 'joint' or 'separate', got {view_batchnorm!r}")
        # "joint": both views in one 2B batch (one pass per network; BatchNorm statistics over both views).
        # "separate": one pass per view, as the official BYOL code does (statistics per view).
        self.view_batchnorm = view_batchnorm
        self.online_encoder = encoder
        self.online_projector = MLPHead(feature_dim, projector_hidden, projector_out)
        self.predictor = MLPHead(projector_out, predictor_hidden, projector_out)
        self.target_encoder = copy.deepcopy(encoder)
        self.target_projector = copy.deepcopy(self.online_projector)
        for p in self.target_parameters():
            p.requires_grad_(False)

    def online_parameters(self):
        yield from self.online_encoder.parameters()
        yield from self.online_projector.parameters()
        yield from self.predictor.parameters()

    def target_parameters(self):
        yield from self.target_encoder.parameters()
        yield from self.target_projector.parameters()

    def forward(self, view1: torch.Tensor, view2: torch.Tensor,
                local_views: Sequence[torch.Tensor] = ()) -> BYOLOutput:
        """Symmetrised BYOL loss for two batches of views of the same images, plus optional local crops.

        With ``view_batchnorm="joint"`` both views go through each network in one concatenated 2B batch
        (one forward instead of two); with ``"separate"`` each view is its own batch. ``local_views``
        (multi-crop: smaller crops of the same B images, each B×C×h×w) go through the *online* network
        only; each predicts the target projections of both global views (``byol_multicrop_loss``).
        Without local views the loss is the paper's two-view loss, bit for bit.
        """
        if self.view_batchnorm == "joint":
            batch = view1.shape[0]
            views = torch.cat([view1, view2], dim=0)
            projection = self.online_projector(self.online_encoder(views))
            prediction = self.predictor(projection)
            with torch.no_grad():
                target = self.target_projector(self.target_encoder(views))
            p1, p2 = prediction[:batch], prediction[batch:]
            z1, z2 = target[:batch], target[batch:]
        else:
            proj1 = self.online_projector(self.online_encoder(view1))
            proj2 = self.online_projector(self.online_encoder(view2))
            p1, p2 = self.predictor(proj1), self.predictor(proj2)
            with torch.no_grad():
                z1 = self.target_projector(self.target_encoder(view1))
                z2 = self.target_projector(self.target_encoder(view2))
            projection = torch.cat([proj1, proj2], dim=0)
        loss = byol_multicrop_loss([p1, p2], [z1, z2], self._local_predictions(local_views))
        return BYOLOutput(loss=loss, online_projection=projection.detach())

    def _local_predictions(self, local_views: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Online predictions of the local crops: their own pass (another size than the global views),
        all crops in one batch ("joint") or one pass per crop ("separate"); never the target network."""
        if not local_views:
            return []
        if self.view_batchnorm == "joint":
            stacked = self.predictor(self.online_projector(self.online_encoder(torch.cat(list(local_views)))))
            return list(stacked.split([v.shape[0] for v in local_views]))
        return [self.predictor(self.online_projector(self.online_encoder(v))) for v in local_views]

    @torch.no_grad()
    def update_target(self, tau: float) -> None:
        ema_update_(self.target_encoder, self.online_encoder, tau)
        ema_update_(self.target_projector, self.online_projector, tau)


def collapse_score(projections: torch.Tensor) -> float:
    """std over the batch of L2-normalised projections, averaged over dimensions, × √d.

    About 1 for well spread outputs, 0 when every image maps to the same vector (collapse).
    """
    z = F.normalize(projections.float(), dim=1)
    return float(z.std(dim=0).mean() * z.shape[1] ** 0.5)
