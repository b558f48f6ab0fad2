"""Strict schemas for every command, YAML files, ``--set`` overrides and flags generated from one table.

- ``schema.py``: dict → dataclass conversion with declared ranges (``bounded``), errors naming the key;
- ``files.py``: YAML files and ``--set key.sub=value``;
- ``flags.py``: a command's flag → key table, typed from the schema (``Flag``, ``add_flags``);
- ``resolve.py``: defaults ← ``--config`` ← flags ← ``--set`` → the schema instance; ``write_resolved``;
- ``recipe.py``, ``pretrain.py``, ``commands.py``, …: the schemas themselves.

The names below are the package's public API, imported as ``from byol_transfer.config import X``.
"""

from .files import apply_overrides, read_yaml, save_yaml_atomic
from .pretrain import (DataConfig, EMAConfig, ModelConfig, MonitorConfig, OptimConfig, PretrainConfig,
                       TrainConfig)
from .recipe import ChannelSpec, LocalCropsSpec, NormalizeSpec, RecipeConfig, ScalingSpec
from .schema import (MAX_IMAGE_SIZE, bounded, device_problem, field_bounds, from_dict, range_problem,
                     to_dict)

__all__ = [
    "MAX_IMAGE_SIZE", "ChannelSpec", "DataConfig", "EMAConfig", "LocalCropsSpec", "ModelConfig", "MonitorConfig",
    "NormalizeSpec", "OptimConfig", "PretrainConfig", "RecipeConfig", "ScalingSpec", "TrainConfig", "apply_overrides",
    "bounded", "device_problem", "field_bounds", "from_dict", "range_problem", "read_yaml", "save_yaml_atomic",
    "to_dict",
]
