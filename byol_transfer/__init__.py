"""byol-transfer: BYOL pretraining on your own unlabeled images, and transfer with few labels."""

from .augment.recipes import build_two_views, list_recipes, load_recipe
from .config import PretrainConfig, RecipeConfig
from .errors import UserError
from .models.backbones import create_backbone
from .models.byol import BYOL
from .models.ema import ema_tau
from .models.losses import byol_pair_loss, byol_symmetric_loss
from .models.weights import load_backbone
from .train.export import export_backbone
from .train.loop import pretrain

from .version import __version__  # noqa: E402 (one version for pyproject and the package)

__all__ = [
    "BYOL",
    "PretrainConfig",
    "RecipeConfig",
    "UserError",
    "build_two_views",
    "byol_pair_loss",
    "byol_symmetric_loss",
    "create_backbone",
    "ema_tau",
    "export_backbone",
    "list_recipes",
    "load_backbone",
    "load_recipe",
    "pretrain",
]
