"""One sample on disk: ``KEY.npy`` (the image, C×H×W in its own dtype), ``KEY.json`` (metadata, label),
``KEY.mask.npy`` (H×W, when the dataset has masks).

Arrays are stored with ``np.save`` and read with ``allow_pickle=False``: a shard is untrusted input, like a
checkpoint, and must never run code. Metadata keeps what the data layer's ``meta`` holds (source path,
window, CRS, affine transform, npz index) as JSON; on reading, ``transform`` and ``window`` become tensors
again, so a streamed sample looks exactly like one read from the source files.
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ..badfiles import BadFileError, first_line

# meta keys that the readers hold as tensors (float64 affine, int window)
_TENSOR_META = {"transform": torch.float64, "window": torch.int64}


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a meta value (tensors and numpy scalars become lists and numbers)."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def encode_sample(sample: dict[str, Any], key: str) -> dict[str, Any]:
    """A data-layer sample → the entries of one tar sample (bytes, ready for ``webdataset.TarWriter``)."""
    image = sample["image"]
    array = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    meta: dict[str, Any] = {"meta": _plain(sample.get("meta", {}))}
    if "label" in sample:
        meta["label"] = int(sample["label"])
    entries: dict[str, Any] = {
        "__key__": key,
        "npy": _npy_bytes(array),
        "json": json.dumps(meta, sort_keys=True).encode(),
    }
    if "mask" in sample:
        mask = sample["mask"]
        mask = mask.numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if mask.size and mask.min() >= 0 and mask.max() <= 255:
            mask = mask.astype(np.uint8)  # class indices: 1 byte instead of 8; read back as long, exactly
        entries["mask.npy"] = _npy_bytes(mask)
    return entries


@lru_cache(maxsize=64)
def _npy_layout(header: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, data offset) of an .npy header, parsed by numpy's own reader.

    numpy parses the header's dict with ``ast.literal_eval``, which was 40 % of decoding a 13×64×64
    sample; every sample of a shard has the same header, so it is parsed once per distinct header.
    """
    buffer = io.BytesIO(header)
    version = np.lib.format.read_magic(buffer)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(buffer)
    if fortran_order or dtype.hasobject:
        raise ValueError("only C-order arrays of plain numbers are stored in shards")
    return dtype, tuple(shape), buffer.tell()


def _header_bytes(data: bytes) -> bytes:
    """The magic, length field and header of an .npy file (its first 10 or 12 bytes say how long)."""
    major = data[6] if len(data) > 6 else 0
    length = int.from_bytes(data[8:10], "little") + 10 if major == 1 else int.from_bytes(data[8:12], "little") + 12
    return bytes(data[:length])


def _load_npy(data: bytes | bytearray, where: str) -> np.ndarray:
    try:
        dtype, shape, offset = _npy_layout(_header_bytes(data))
        expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(data) != expected:
            raise ValueError(f"{len(data)} bytes where the header announces {expected}")
        array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
        # tensors made from it are collated and augmented: writable memory (a bytearray from the local
        # reader is used as it is; bytes, from webdataset's pipes, are copied)
        return array if array.flags.writeable else array.copy()
    except Exception as e:  # a damaged member: name the shard and the sample
        raise BadFileError(f"{where}: not a readable .npy array ({type(e).__name__}: {first_line(e)})") from None


def decode_sample(raw: dict[str, Any]) -> dict[str, Any]:
    """The entries of one tar sample (as webdataset yields them) → the data layer's sample dict.

    ``meta`` gains ``key`` (the sample's key in the shards) and ``shard`` (the shard it came from).
    """
    url = raw.get("__url__", "?")
    key = raw.get("__key__", "?")
    where = f"{url}: sample {key}"
    if "npy" not in raw or "json" not in raw:
        raise BadFileError(f"{where}: incomplete sample (has {sorted(k for k in raw if not k.startswith('__'))})")
    try:
        info = json.loads(raw["json"])
    except Exception as e:
        raise BadFileError(f"{where}: unreadable metadata ({type(e).__name__}: {first_line(e)})") from None
    meta = dict(info.get("meta", {}))
    for name, dtype in _TENSOR_META.items():
        if name in meta:
            meta[name] = torch.tensor(meta[name], dtype=dtype)
    meta["key"], meta["shard"] = key, url
    sample: dict[str, Any] = {"image": torch.from_numpy(_load_npy(raw["npy"], where)), "meta": meta}
    if "label" in info:
        sample["label"] = int(info["label"])
    if "mask.npy" in raw:
        sample["mask"] = torch.from_numpy(_load_npy(raw["mask.npy"], where)).long()
    return sample
