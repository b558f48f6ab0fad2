"""The feature cache: frozen features on disk (safetensors), keyed by what determines them.

The key is made of the weights' hash, the data's fingerprint (files, sizes, modification times, image
size) and the transform's parameters, so a sweep over seeds, fractions and evaluators extracts each
(init, dataset) pair once, and a rerun with the same weights and data extracts nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import Dataset

from ..io import atomic_path
from .extract import extract_features

log = logging.getLogger(__name__)

CACHE_FORMAT = "byol-transfer/features-v1"  # bump when extraction changes what it computes


def state_fingerprint(module: nn.Module) -> str:
    """SHA-256 of every parameter and buffer (names, dtypes, shapes, bytes): the weights' identity.

    Also used to prove that frozen-feature evaluation leaves a backbone bit-identical.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # bytes of the raw storage: viewing as uint8 works for every dtype, bf16 included
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def transform_fingerprint(transform: nn.Module) -> str:
    """Normalisation buffers plus any declarative ``spec`` (the value scaling) of the submodules."""
    digest = hashlib.sha256(state_fingerprint(transform).encode())
    for name, sub in transform.named_modules():
        spec = getattr(sub, "spec", None)
        if spec is not None:
            digest.update(f"{name}={spec!r}".encode())
    return digest.hexdigest()


def dataset_fingerprint(dataset: Dataset) -> str | None:
    """What the data look like to a backbone, or ``None`` when it cannot be told (then: no cache).

    A dataset may define ``fingerprint() -> str`` itself; otherwise file-backed datasets are keyed by
    resolved path, size and modification time of every file (``files``, or one archive ``path`` with
    its ``split``, as for .npz data), plus ``image_size``.
    """
    own = getattr(dataset, "fingerprint", None)
    if callable(own):
        return str(own())
    files = getattr(dataset, "files", None)
    archive = getattr(dataset, "path", None)
    if files is None and isinstance(archive, (str, Path)) and Path(archive).is_file():
        files = [archive]
    if files is None:
        return None
    digest = hashlib.sha256(f"{type(dataset).__name__}|size={getattr(dataset, 'image_size', None)}"
                            f"|split={getattr(dataset, 'split', None)}".encode())
    for path in files:
        st = os.stat(path)
        digest.update(f"|{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def cached_features(
    backbone: nn.Module,
    dataset: Dataset,
    transform: nn.Module,
    cache_dir: str | Path | None,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    progress: bool = False,
    weights_hash: str | None = None,
) -> torch.Tensor:
    """``extract_features`` (features only), read from / written to ``cache_dir`` when possible."""
    data_key = dataset_fingerprint(dataset)
    cache_file = None
    if cache_dir is not None and data_key is not None:
        key = hashlib.sha256(
            "|".join([CACHE_FORMAT, weights_hash or state_fingerprint(backbone), data_key,
                      transform_fingerprint(transform)]).encode()
        ).hexdigest()[:32]
        cache_file = Path(cache_dir) / f"{key}.safetensors"
        if cache_file.is_file():
            try:
                features = load_file(str(cache_file))["features"]
            except Exception as e:  # a truncated or foreign file: recompute rather than fail
                log.warning("ignoring unreadable feature cache %s (%s)", cache_file, type(e).__name__)
            else:
                if len(features) == len(dataset):  # type: ignore[arg-type]
                    log.info("features from cache %s", cache_file)
                    return features
    features, _ = extract_features(backbone, dataset, transform, device, batch_size, progress=progress)
    if cache_file is not None:
        with atomic_path(cache_file) as tmp:
            save_file({"features": features.contiguous()}, str(tmp))
    return features
