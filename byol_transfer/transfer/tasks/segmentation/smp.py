"""segmentation-models-pytorch (smp) models whose encoder is a BYOL export, loaded strictly.

Which smp encoders a timm export fits:

- ``tu-<name>`` (smp's "timm universal" encoder) for the export's own architecture ``<name>``: the
  encoder wraps ``timm.create_model(name, features_only=True, in_chans=C)``, i.e. the same modules under
  the same names, except that timm's feature wrapper flattens top-level ``nn.Sequential`` children
  (``stages.0`` becomes ``stages_0``, convnext) and leaves out modules after the last feature stage
  (classifier-side layers such as convnext's ``head.norm`` or efficientnet's ``conv_head``/``bn2``).
  Checked here: resnet18/34/50, resnet18d, convnext_atto, efficientnet_b0, mobilenetv3/4, regnetx.
- smp's native ``resnet18``/``resnet34``/``resnet50`` (torchvision-style) encoders hold exactly the key
  names and shapes of timm's ``resnet18``/``resnet34``/``resnet50``, so those exports fit them as well.
- Not: a different architecture (``resnet18`` weights in ``tu-resnet34``), another band count (the stem
  convolution's input channels), a CIFAR-style stem (3×3 ``conv1`` without max-pool) in a standard
  resnet, or timm models without feature extraction (``byol_tiny_cnn``, ViTs in smp's CNN decoders).

Loading is strict in both directions: every tensor of the smp encoder comes from the export (equality
is verified after loading), and every export tensor is loaded except those of whole modules the
feature encoder does not contain (listed by name in the log). Anything else is a :class:`UserError`
naming the offending keys and shapes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ....augment.scaling import scaling_to_dict
from ....augment.views import EvalTransform
from ....errors import UserError
from ....io import atomic_path, atomic_write_text
from ....models.backbones import create_backbone
from ....models.finite import require_finite
from ....models.weights import first_conv_key, load_strict, read_export

log = logging.getLogger(__name__)

TIMM_PREFIX = "tu-"
MODEL_FILE = "model.safetensors"
META_FILE = "model.json"
MODEL_FORMAT = "byol-transfer/segmentation-model"


def architectures() -> list[str]:
    """smp architecture names: unet, unetplusplus, fpn, deeplabv3plus, manet, linknet, pspnet, ..."""
    import segmentation_models_pytorch as smp

    return sorted(smp.MODEL_ARCHITECTURES_MAPPING)


def smp_encoder_name(name: str) -> str:
    """A timm model name → smp's ``tu-<name>``; an explicit ``tu-`` name stays as it is."""
    return name if name.startswith(TIMM_PREFIX) else f"{TIMM_PREFIX}{name}"


def timm_name(encoder: str) -> str:
    """The timm architecture an smp encoder name stands for (native smp resnets share timm's names)."""
    return encoder[len(TIMM_PREFIX):] if encoder.startswith(TIMM_PREFIX) else encoder


def create_segmentation_model(arch: str, encoder: str, in_chans: int, num_classes: int, **kwargs: Any) -> nn.Module:
    """An smp model with a randomly initialised encoder (``encoder_weights=None``: nothing downloads)."""
    import segmentation_models_pytorch as smp
    import timm

    if arch.lower() not in smp.MODEL_ARCHITECTURES_MAPPING:
        raise UserError(f"unknown segmentation architecture {arch!r}; choose one of: {', '.join(architectures())}")
    if in_chans < 1:
        raise UserError(f"in_chans must be at least 1, got {in_chans}")
    if num_classes < 2:
        raise UserError(f"a segmentation model needs at least 2 classes (background included), got {num_classes}")
    if encoder.startswith(TIMM_PREFIX) and not timm.is_model(timm_name(encoder)):
        create_backbone(timm_name(encoder), in_chans)  # raises the "unknown backbone ... similar: ..." error
    try:
        return smp.create_model(arch.lower(), encoder_name=encoder, encoder_weights=None, in_channels=in_chans,
                                classes=num_classes, **kwargs)
    except (KeyError, ValueError, AttributeError, TypeError, RuntimeError, AssertionError) as e:
        hint = "" if encoder.startswith(TIMM_PREFIX) else f" (timm models are named {smp_encoder_name(encoder)})"
        raise UserError(f"smp {arch} cannot use the encoder {encoder!r}{hint}: {type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''}") from None


def encoder_module(model: nn.Module) -> nn.Module:
    """The module whose state dict holds the encoder weights under the backbone's own key names."""
    from segmentation_models_pytorch.encoders.timm_universal import TimmUniversalEncoder

    encoder = model.encoder
    return encoder.model if isinstance(encoder, TimmUniversalEncoder) else encoder


def input_multiple(model: nn.Module) -> int:
    """Input height and width must be multiples of this (the encoder's total downsampling)."""
    return int(getattr(model.encoder, "output_stride", 32))


def _feature_names(backbone: nn.Module) -> dict[str, str]:
    """Top-level module names in timm's feature wrappers → their paths in the plain timm model.

    timm's ``FeatureListNet`` flattens top-level ``nn.Sequential`` children: ``stages.0`` → ``stages_0``.
    """
    names: dict[str, str] = {}
    for name, child in backbone.named_children():
        names[name] = name
        if isinstance(child, nn.Sequential):
            for sub, _ in child.named_children():
                names.setdefault(f"{name}_{sub}", f"{name}.{sub}")
    return names


def _backbone_key(key: str, names: dict[str, str]) -> str | None:
    head, dot, rest = key.partition(".")
    path = names.get(head)
    if path is None:
        return None
    return f"{path}.{rest}" if dot else path


def check_stem(backbone: nn.Module, weights: dict[str, torch.Tensor], architecture: str, where: str) -> None:
    """Refuse another band count or a CIFAR-style stem with a message that says which."""
    own = backbone.state_dict()
    key = first_conv_key(backbone)
    if key is None or key not in weights or weights[key].ndim != 4:
        return
    have, want = tuple(weights[key].shape), tuple(own[key].shape)
    if have[2:] != want[2:]:
        raise UserError(
            f"{where}: stem {key} is {have} but {architecture} has {want}: a {have[2]}×{have[3]} stem "
            f"(CIFAR-style, no max-pool) does not fit the standard {want[2]}×{want[3]} stem of timm's "
            f"{architecture} or smp's encoders; pretrain segmentation backbones with the standard stem"
        )
    if have[1] != want[1]:
        raise UserError(f"{where}: stem {key} is {have}: the weights take {have[1]}-channel images but the "
                        f"data have {want[1]} channel(s); use weights pretrained on this kind of data")


def copy_backbone_into_encoder(model: nn.Module, backbone: nn.Module, encoder: str, where: str) -> list[str]:
    """Load a (strictly loaded) timm backbone into the smp model's encoder; verify every tensor.

    Returns the backbone keys that were not needed: modules the feature encoder leaves out entirely.
    """
    target = encoder_module(model)
    own = target.state_dict()
    source = backbone.state_dict()
    names = _feature_names(backbone)
    mapped: dict[str, torch.Tensor] = {}
    missing, shapes = [], []
    for key, tensor in own.items():
        src = _backbone_key(key, names)
        if src is None or src not in source:
            missing.append(key)
        elif source[src].shape != tensor.shape:
            shapes.append(f"{src}: {tuple(source[src].shape)} in the weights vs {tuple(tensor.shape)} in {encoder}")
        else:
            mapped[key] = source[src]
    used = {_backbone_key(k, names) for k in mapped}
    kept_modules = {names.get(k.partition(".")[0]) for k in own}
    unused = sorted(k for k in source if k not in used)
    partial = [k for k in unused if any(k == m or k.startswith(f"{m}.") for m in kept_modules if m)]
    if missing or shapes or partial:
        parts = []
        if missing:
            parts.append(f"encoder key(s) not in the weights: {len(missing)}, e.g. {', '.join(missing[:3])}")
        if shapes:
            parts.append(f"shape mismatch {'; '.join(shapes[:3])}")
        if partial:
            parts.append(f"weights the encoder would leave unused: {len(partial)}, e.g. {', '.join(partial[:3])}")
        raise UserError(f"{where} does not fit the smp encoder {encoder}: {'; '.join(parts)}")
    load_strict(target, mapped, where)  # strict=True, then tensor-by-tensor equality
    if unused:
        log.info("%s: %d tensor(s) of modules the %s feature encoder leaves out are not used (%s)",
                 where, len(unused), encoder, ", ".join(unused[:6]) + (", ..." if len(unused) > 6 else ""))
    return unused


def load_export_into_encoder(model: nn.Module, encoder: str, weights_path: str | Path,
                             in_chans: int | None = None) -> list[str]:
    """Read a BYOL export (or any timm state dict in safetensors) and load it into ``model``'s encoder.

    The export must be of the encoder's own architecture (``tu-resnet18`` ← ``resnet18``); it is first
    loaded strictly into that timm architecture, then copied into the smp encoder and compared.
    """
    weights, meta = read_export(weights_path)
    where = str(weights_path)
    architecture = meta.get("architecture") or timm_name(encoder)
    check_architecture(architecture, encoder, where)
    stem = next(v for v in encoder_module(model).state_dict().values() if v.ndim == 4)
    in_chans = in_chans or int(stem.shape[1])
    backbone = create_backbone(architecture, in_chans)
    check_stem(backbone, weights, architecture, where)
    load_strict(backbone, weights, where)
    return copy_backbone_into_encoder(model, backbone, encoder, where)


def check_architecture(architecture: str, encoder: str, where: str) -> None:
    if timm_name(encoder) != architecture:
        raise UserError(f"{where} holds a {architecture} backbone but the encoder is {encoder}; "
                        f"use --encoder {architecture}")


def transform_to_dict(transform: EvalTransform) -> dict[str, Any]:
    return {
        "scaling": scaling_to_dict(transform.scaling),
        "normalize": {"mean": transform.normalize.mean.flatten().tolist(),
                      "std": transform.normalize.std.flatten().tolist()},
    }


def save_segmentation_model(out_dir: str | Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """``out_dir/model.safetensors`` (the whole smp model) + ``out_dir/model.json``, both atomic."""
    out_dir = Path(out_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out_dir / MODEL_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": MODEL_FORMAT})
    atomic_write_text(out_dir / META_FILE, json.dumps({"format": MODEL_FORMAT, "format_version": 1, **meta},
                                                      indent=2) + "\n")
    return out_dir


def read_model_meta(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / META_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{model_dir}: no {META_FILE} (not a model folder written by byol-transfer segment)") from None
    except json.JSONDecodeError:
        raise UserError(f"{path}: not valid JSON") from None
    needed = ("arch", "encoder", "in_chans", "classes", "scaling", "normalize", "tile_size")
    if meta.get("format") != MODEL_FORMAT or any(k not in meta for k in needed):
        raise UserError(f"{path}: not a segmentation model description (needs {', '.join(needed)})")
    return meta


def load_segmentation_model(model_dir: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The smp model of a model folder with its weights loaded strictly (safetensors: no code runs)."""
    meta = read_model_meta(model_dir)
    weights_path = Path(model_dir) / MODEL_FILE
    if not weights_path.is_file():
        raise UserError(f"{model_dir}: {MODEL_FILE} is missing")
    try:
        weights = load_file(str(weights_path))
    except Exception as e:
        raise UserError(f"{weights_path}: not a readable safetensors file ({type(e).__name__})") from None
    require_finite(weights, str(weights_path))
    model = create_segmentation_model(meta["arch"], meta["encoder"], int(meta["in_chans"]), len(meta["classes"]),
                                      **meta.get("arch_kwargs", {}))
    load_strict(model, weights, str(weights_path))
    model.eval()
    return model, meta
