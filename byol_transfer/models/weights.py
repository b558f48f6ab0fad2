"""Weight files: the one place that reads or writes a backbone's weights and its JSON sidecar.

An export is ``NAME.safetensors`` (the bare backbone in timm key names) plus ``NAME.safetensors.json`` (the
sidecar: architecture, channel count, recipe, value scaling, normalisation, training steps), so transfer
commands need no extra flags and can refuse mismatches. Reading never runs code (safetensors) and refuses
non-finite tensors; loading is strict and verified tensor by tensor. ``train/export.py`` builds an export
from a checkpoint; ``transfer/`` reads them here (and only here), so it never imports the training package.

Starting from weights one already has (``pretrain --init``): :func:`read_weights` reads an export, a timm
``.safetensors`` or a ``.pth``/``.pt`` state dict; :func:`adapt_first_conv` fits the input convolution to
other bands (by name, else by an explicit rule; the rule is in its docstring and docs/pretraining.md);
:func:`init_from_weights` loads the rest strictly and returns what was done, for config.yaml and the sidecar.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import timm
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import UserError
from ..io import atomic_path, atomic_write_text
from .backbones import create_backbone
from .finite import require_finite

log = logging.getLogger(__name__)


def sidecar_path(weights: Path) -> Path:
    return weights.with_name(weights.name + ".json")


def write_export(weights: dict[str, torch.Tensor], meta: dict[str, Any], out: str | Path) -> Path:
    """``out`` (.safetensors) and its sidecar, each written atomically; the weights must be finite."""
    out = Path(out)
    require_finite(weights, str(out))
    with atomic_path(out) as tmp:
        save_file(weights, str(tmp), metadata={"architecture": str(meta["architecture"]),
                                              "in_chans": str(meta["in_chans"])})
    atomic_write_text(sidecar_path(out), json.dumps(meta, indent=2) + "\n")
    return out


def read_export(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Weights and sidecar metadata of an export (safetensors: no code runs while loading)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    try:
        weights = load_file(str(path))
    except Exception as e:
        raise UserError(f"{path}: not a readable safetensors file ({type(e).__name__})") from None
    require_finite(weights, str(path))
    meta_file = sidecar_path(path)
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    return weights, meta


def load_backbone(path: str | Path, architecture: str | None = None, in_chans: int | None = None) -> nn.Module:
    """A timm backbone with an export loaded strictly, and checked tensor by tensor after loading."""
    weights, meta = read_export(path)
    architecture = architecture or meta.get("architecture")
    in_chans = in_chans or meta.get("in_chans")
    if not architecture or not in_chans:
        raise UserError(f"{path}: no sidecar .json; pass the architecture and channel count explicitly")
    if meta and (meta.get("architecture") != architecture or meta.get("in_chans") != in_chans):
        raise UserError(
            f"{path}: exported as {meta.get('architecture')} with {meta.get('in_chans')} channel(s), "
            f"requested {architecture} with {in_chans}"
        )
    backbone = create_backbone(architecture, in_chans)
    load_strict(backbone, weights, str(path))
    return backbone


def load_strict(module: nn.Module, weights: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict(strict=True)`` with a readable error, then verify every tensor is equal."""
    own = module.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    shapes = [f"{k}: {tuple(weights[k].shape)} vs {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(weights)) if weights[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s) e.g. {', '.join(unexpected[:3])}")
        if shapes:
            parts.append(f"shape mismatch {'; '.join(shapes[:3])}")
        raise UserError(f"{where} does not fit the model: {'; '.join(parts)}")
    module.load_state_dict(weights, strict=True)
    after = module.state_dict()
    for key, tensor in weights.items():
        if not torch.equal(after[key].cpu(), tensor.cpu()):
            raise RuntimeError(f"{where}: {key} differs after loading")


def read_sidecar(weights: str | Path) -> dict[str, Any]:
    """The sidecar of a weights file; ``{}`` when there is none or it is no JSON object (then no export's)."""
    path = sidecar_path(Path(weights))
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def first_conv_key(model: nn.Module) -> str | None:
    """The state-dict key of the input convolution's weight: timm's ``first_conv``, else the first 4-D tensor."""
    own = model.state_dict()
    first = (getattr(model, "pretrained_cfg", None) or {}).get("first_conv")
    if first and f"{first}.weight" in own:
        return f"{first}.weight"
    return next((k for k, v in own.items() if v.ndim == 4), None)


# --- starting from weights one already has (pretrain --init) ------------------------------------------

# Names that mean the same band: RGB channel names ↔ the Sentinel-2 bands they are rendered from
# (EuroSAT RGB is B04/B03/B02 as 8-bit red/green/blue; NIR is B08). Compared case-insensitively.
BAND_ALIASES = {"red": "b04", "green": "b03", "blue": "b02", "nir": "b08"}
MEAN = "mean"  # a target band that gets the mean filter over the source bands
REPEAT = "repeat"  # --band-map repeat: timm's adapt_input_conv (cycle the source filters), no names needed

BandList = Union[Sequence[str], int]  # band names in file order, or only their number


def _canonical(name: str) -> str:
    low = name.strip().lower()
    return BAND_ALIASES.get(low, low)


def _names(bands: BandList) -> list[str]:
    return [] if isinstance(bands, int) else [str(b) for b in bands]


def _count(bands: BandList) -> int:
    return bands if isinstance(bands, int) else len(bands)


def _describe(bands: BandList) -> str:
    names = _names(bands)
    n = _count(bands)
    return f"{n} band(s) ({', '.join(names)})" if names and all(names) else f"{n} band(s) (no names)"


def _band_index(spec: str, names: list[str], count: int, side: str) -> int:
    """0-based index of a band given by 1-based number or name (aliases allowed) on one side of a map."""
    spec = spec.strip()
    if spec.isdigit():
        if not 1 <= int(spec) <= count:
            raise UserError(f"--band-map: {side} band {spec} does not exist (bands 1..{count})")
        return int(spec) - 1
    matches = [i for i, n in enumerate(names) if _canonical(n) == _canonical(spec)]
    if not matches:
        known = ", ".join(names) if names else "no names; use numbers"
        raise UserError(f"--band-map: no {side} band named {spec!r} ({known})")
    return matches[0]


def _label(names: list[str], i: int) -> str:
    return names[i] if names and names[i] else str(i + 1)


def parse_band_map(text: str, source: BandList, target: BandList) -> dict[int, int | None]:
    """``"B04=red,B03=green,B01=mean"`` (TARGET=SOURCE, names or 1-based numbers) → target → source or None."""
    out: dict[int, int | None] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        t, sep, s = item.partition("=")
        if not sep or not t.strip() or not s.strip():
            raise UserError(f"--band-map {text!r}: expected TARGET=SOURCE pairs (or 'repeat'), got {item!r}")
        ti = _band_index(t, _names(target), _count(target), "target (data)")
        if ti in out:
            raise UserError(f"--band-map {text!r}: target band {t.strip()!r} is mapped twice")
        out[ti] = None if s.strip().lower() == MEAN else _band_index(s, _names(source), _count(source),
                                                                       "source (weights)")
    if not out:
        raise UserError("--band-map: empty")
    return out


def adapt_first_conv(weights: dict[str, torch.Tensor], key: str, source_bands: BandList, target_bands: BandList,
                     band_map: str | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str] | None]:
    """Fit the input convolution ``weights[key]`` (O×S×k×k) to the target bands; (weights, mapping record).

    The rule, one for every case: build a kernel with one input slice per target band, then multiply the
    whole kernel by S/T (S source bands, T target bands):

    - ``band_map`` ``"TARGET=SOURCE,..."`` (names or 1-based numbers; SOURCE may be ``mean``) decides the
      bands it lists; ``"repeat"`` is timm's ``adapt_input_conv`` (target band i gets source filter i mod S,
      scaled by S/T; one target band gets the sum of the source filters);
    - else, when both sides name their bands, a target band whose name matches a source band
      (case-insensitive, with :data:`BAND_ALIASES`) gets that band's filter;
    - every other target band gets the mean of the S source filters.

    Why S/T: with bands of similar statistics, the first layer's response is the sum of its per-band
    responses; T slices instead of S would change it by about T/S (timm's reasoning). When every source
    band is used once (RGB → 13 Sentinel-2 bands), the summed kernel equals the source's exactly.
    Equal counts without names (or with the same names in the same order): the weights are returned as they
    are and the record is None. A different count with no names and no ``band_map`` is an error naming
    both band lists, as is a named pair of lists with no band in common: never a silent guess.
    """
    kernel = weights[key]
    S, T = int(kernel.shape[1]), _count(target_bands)  # noqa: N806
    if _count(source_bands) != S:
        raise UserError(f"{key}: the weights take {S} band(s) but their band names list {_describe(source_bands)}")
    src, tgt = _names(source_bands), _names(target_bands)
    named = bool(src) and bool(tgt) and all(src) and all(tgt)
    mapping: dict[int, int | None]
    if band_map and band_map.strip().lower() == REPEAT:
        mapping = {t: t % S for t in range(T)}
        new = timm.models.adapt_input_conv(T, kernel, base_chans=S)  # repeat (or sum for T = 1) and scale S/T
        record = {_label(tgt, t): (_label(src, s) if T > 1 else "sum") for t, s in mapping.items()}
        return {**weights, key: new.to(kernel.dtype)}, record
    if band_map:
        mapping = parse_band_map(band_map, source_bands, target_bands)
    elif named:
        mapping = {}
    elif S == T:
        return weights, None
    else:
        raise UserError(
            f"{key}: the weights take {_describe(source_bands)}, the data have {_describe(target_bands)}; "
            "without band names on both sides pass --band-map: 'repeat' (timm's repeat-and-scale) or "
            "TARGET=SOURCE pairs, e.g. B04=1,B03=2,B02=3 (unlisted bands get the mean filter)")
    if named:
        for t, name in enumerate(tgt):
            if t not in mapping:
                hits = [s for s, sname in enumerate(src) if _canonical(sname) == _canonical(name)]
                mapping[t] = hits[0] if hits else None
        if not band_map and all(s is None for s in mapping.values()):
            raise UserError(f"{key}: no band of the data {_describe(target_bands)} matches a band of the weights "
                            f"{_describe(source_bands)}; pass --band-map TARGET=SOURCE pairs (or 'repeat')")
        if S == T and all(mapping[t] == t for t in range(T)):
            return weights, None  # the same bands in the same order: nothing to adapt
    mean = kernel.float().mean(dim=1)
    slices = [kernel[:, mapping[t]].float() if mapping.get(t) is not None else mean for t in range(T)]
    new = (torch.stack(slices, dim=1) * (S / T)).to(kernel.dtype)
    record = {_label(tgt, t): (MEAN if mapping.get(t) is None else _label(src, mapping[t])) for t in range(T)}
    return {**weights, key: new}, record


def format_band_mapping(record: dict[str, str] | None) -> str | None:
    """The record as ``TARGET=SOURCE,...``: itself a valid ``--band-map`` that reproduces the adaptation."""
    return None if record is None else ",".join(f"{t}={s}" for t, s in record.items())


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An export or timm ``.safetensors`` (with its sidecar, if any), or a ``.pth``/``.pt``/``.bin`` state
    dict read with ``weights_only=True`` (no code runs); every tensor must be finite."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return read_export(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{path}: not a readable PyTorch weights file ({type(e).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UserError(f"{path}: expected a state dict of tensors in timm key names")
    require_finite(state, str(path))
    return state, {}


def drop_classifier(model: nn.Module, weights: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """A timm classifier checkpoint minus its head (what timm itself does for ``num_classes=0``)."""
    head = (getattr(model, "pretrained_cfg", None) or {}).get("classifier")
    if not head:
        return weights
    own = model.state_dict()
    dropped = [k for k in weights if k.startswith(f"{head}.") and k not in own]
    if dropped:
        log.info("%s: dropping the classifier %s (%s)", where, head, ", ".join(dropped))
    return {k: v for k, v in weights.items() if k not in dropped}


@dataclass
class InitRecord:
    """Where a run's starting weights came from: recorded in config.yaml and the export sidecar."""

    path: str
    sha256: str
    band_mapping: dict[str, str] | None  # target band → source band, "mean" or "sum"; None: loaded as is


def fit_first_conv(backbone: nn.Module, weights: dict[str, torch.Tensor], meta: dict[str, Any],
                   target_bands: BandList, band_map: str | None, where: str
                   ) -> tuple[dict[str, torch.Tensor], dict[str, str] | None]:
    """``weights`` with the input convolution of ``backbone`` fitted to ``target_bands`` (:func:`adapt_first_conv`;
    the source band names come from the sidecar ``meta``); (weights, mapping record or None: loaded as is).

    The one adaptation step of ``pretrain --init``, ``label-efficiency`` and ``segment``; every other tensor is
    passed through untouched, for the caller's strict load.
    """
    key = first_conv_key(backbone)
    if key is None or key not in weights or weights[key].ndim != 4:
        if band_map:
            raise UserError(f"--band-map: {where} has no 4-D input convolution to adapt")
        return weights, None
    source_names = meta.get("band_names") or []
    source: BandList = source_names if len(source_names) == weights[key].shape[1] else int(weights[key].shape[1])
    weights, record = adapt_first_conv(weights, key, source, target_bands, band_map)
    if record is not None:
        log.info("%s: first conv %s adapted from %s to %s: %s", where, key, _describe(source),
                 _describe(target_bands), format_band_mapping(record))
    return weights, record


def init_from_weights(backbone: nn.Module, path: str | Path, architecture: str, target_bands: BandList,
                      band_map: str | None = None) -> InitRecord:
    """Load ``path`` into ``backbone`` strictly, except the first conv, adapted to ``target_bands``."""
    path = Path(path)
    weights, meta = read_weights(path)
    where = str(path)
    if meta.get("architecture") and meta["architecture"] != architecture:
        raise UserError(f"--init {path}: exported as {meta['architecture']}, the run trains {architecture} "
                        "(--backbone)")
    weights = drop_classifier(backbone, weights, where)
    weights, record = fit_first_conv(backbone, weights, meta, target_bands, band_map, f"--init {path}")
    load_strict(backbone, weights, where)
    return InitRecord(str(path), file_sha256(path), record)
