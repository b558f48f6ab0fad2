"""Streaming per-band statistics (``byol-transfer stats``): mean, std, p1, p99, nodata-aware.

Integer images (uint8, uint16, int16) are counted in one exact histogram per band (at most 65,536 bins),
so every statistic is exact and memory stays bounded whatever the dataset size. Float images keep
running moments (merged batch by batch, Chan et al.) plus a bounded uniform reservoir per band for the
percentiles. Invalid pixels (NaN, the nodata value, and for GeoTIFFs pixels that are 0 in every band)
are left out of every band.

stats.json holds ``mean``/``std`` *after* the declared value scaling — what ``Normalize`` subtracts and
divides by, since it runs after scaling — and ``p1``/``p99``/``raw`` in stored values, which is what
``percentile_clip`` scaling reads.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from ..config import ScalingSpec
from ..errors import UserError
from ..io import atomic_write_text
from .pixel_checks import invalid_pixels
from .threads import single_threaded

log = logging.getLogger(__name__)

_HISTOGRAM_OFFSET = {"uint8": (0, 256), "uint16": (0, 65536), "int16": (32768, 65536)}
_FLUSH_VALUES = 1 << 22  # buffer this many integer values per band before one bincount


class BandStats:
    """Accumulates C×H×W images; :meth:`result` gives per-band statistics."""

    def __init__(
        self,
        channels: int,
        dtype: str,
        nodata: float | None = None,
        zero_is_nodata: bool = False,
        reservoir: int = 200_000,
        seed: int = 0,
        where: str = "stats",
        band_names: list[str] | None = None,
    ) -> None:
        self.channels, self.dtype = channels, str(dtype)
        self.where, self.band_names = where, list(band_names or [])
        self.band_valid = np.zeros(channels, dtype=np.int64)  # per band, values that are valid on their own
        self.nodata, self.zero_is_nodata = nodata, zero_is_nodata
        self.images = 0
        self.exact = self.dtype in _HISTOGRAM_OFFSET
        if self.exact:
            self.offset, bins = _HISTOGRAM_OFFSET[self.dtype]
            self.hist = np.zeros((channels, bins), dtype=np.int64)
            self._buffer: list[np.ndarray] = []
            self._buffered = 0
        else:
            self.count = np.zeros(channels, dtype=np.int64)
            self.mean = np.zeros(channels)
            self.m2 = np.zeros(channels)
            self.min = np.full(channels, np.inf)
            self.max = np.full(channels, -np.inf)
            self.capacity = reservoir
            self.sample = [np.empty(0) for _ in range(channels)]
            self.seen = np.zeros(channels, dtype=np.int64)
            self.rng = np.random.default_rng(seed)

    def update(self, image: np.ndarray) -> None:
        if image.shape[0] != self.channels:
            raise UserError(f"stats: an image has {image.shape[0]} bands, expected {self.channels}")
        self.images += 1
        own_bad = ~np.isfinite(image) if image.dtype.kind == "f" else np.zeros(image.shape, dtype=bool)
        if self.nodata is not None and np.isfinite(self.nodata):
            own_bad |= image == self.nodata
        self.band_valid += image[0].size - own_bad.reshape(self.channels, -1).sum(axis=1)
        valid = ~invalid_pixels(image, self.nodata, self.zero_is_nodata)
        values = image[:, valid]  # C×N valid pixels
        if values.shape[1] == 0:
            return
        if self.exact:
            self._buffer.append(values.astype(np.int64) + self.offset)
            self._buffered += values.shape[1]
            if self._buffered >= _FLUSH_VALUES:
                self._flush()
        else:
            self._update_float(values.astype(np.float64))

    def _flush(self) -> None:
        if not self._buffer:
            return
        values = np.concatenate(self._buffer, axis=1)
        bins = self.hist.shape[1]
        flat = (values + np.arange(self.channels)[:, None] * bins).ravel()
        self.hist += np.bincount(flat, minlength=self.channels * bins).reshape(self.channels, bins)
        self._buffer, self._buffered = [], 0

    def _update_float(self, values: np.ndarray) -> None:
        n = values.shape[1]
        batch_mean = values.mean(axis=1)
        batch_m2 = ((values - batch_mean[:, None]) ** 2).sum(axis=1)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta**2 * self.count * n / total
        self.count = total
        self.min = np.minimum(self.min, values.min(axis=1))
        self.max = np.maximum(self.max, values.max(axis=1))
        for b in range(self.channels):  # reservoir sampling (algorithm R, batched)
            self.sample[b] = _reservoir(self.sample[b], values[b], self.seen[b], self.capacity, self.rng)
            self.seen[b] += n

    def _no_valid_pixels(self, band: int) -> UserError:
        """Which band holds no data at all (every value NaN or nodata), else why no pixel is valid."""
        dead = [int(b) for b in np.nonzero(self.band_valid == 0)[0]]
        named = lambda b: f"band {b + 1}" + (f" ({self.band_names[b]})" if len(self.band_names) == self.channels else "")  # noqa: E731
        rules = ["NaN or infinite"] + ([f"the nodata value {self.nodata:g}"] if self.nodata is not None else [])
        if dead:
            return UserError(f"{self.where}: no valid pixels in {', '.join(map(named, dead))} of {self.images} "
                             f"image(s) (every value is {' or '.join(rules)})")
        rules += ["0 in every band"] if self.zero_is_nodata else []
        return UserError(f"{self.where}: no valid pixels in {named(band)} of {self.images} image(s): every pixel "
                         f"has a band that is {' or '.join(rules)}")

    def result(self, scaling: ScalingSpec | None = None) -> dict[str, Any]:
        """Raw statistics plus mean/std after ``scaling`` (None: no scaling)."""
        if self.exact:
            self._flush()
            counts = self.hist.sum(axis=1)
            if (counts == 0).any():
                raise self._no_valid_pixels(int(np.argmin(counts)))
            values = np.arange(self.hist.shape[1], dtype=np.float64) - self.offset
            p1 = [_hist_quantile(h, values, 0.01) for h in self.hist]
            p99 = [_hist_quantile(h, values, 0.99) for h in self.hist]
            raw_mean, raw_std = _hist_moments(self.hist, values, lambda v, b: v)
            lo = [float(values[np.nonzero(h)[0][0]]) for h in self.hist]
            hi = [float(values[np.nonzero(h)[0][-1]]) for h in self.hist]
            scale = _scaler(scaling, self.dtype, p1, p99)
            mean, std = _hist_moments(self.hist, values, scale)
            pixels = counts.tolist()
        else:
            if (self.count == 0).any():
                raise self._no_valid_pixels(int(np.argmin(self.count)))
            p1 = [float(np.percentile(s, 1)) for s in self.sample]
            p99 = [float(np.percentile(s, 99)) for s in self.sample]
            raw_mean = self.mean.tolist()
            raw_std = np.sqrt(self.m2 / self.count).tolist()
            lo, hi = self.min.tolist(), self.max.tolist()
            scale = _scaler(scaling, self.dtype, p1, p99)
            if scaling is None or scaling.kind in ("auto", "divide", "none"):  # linear: exact from the moments
                unit = float(scale(np.array([1.0]), 0)[0])  # the factor raw values are multiplied by
                mean = [m * unit for m in raw_mean]
                std = [s_ * unit for s_ in raw_std]
            else:  # clipping: from the reservoir
                scaled = [scale(s, b) for b, s in enumerate(self.sample)]
                mean = [float(s.mean()) for s in scaled]
                std = [float(s.std()) for s in scaled]
            pixels = self.count.tolist()
        flat = [i for i, s in enumerate(std) if not s > 0]
        if flat:
            log.warning("stats: band(s) %s are constant; their std is written as 1.0", [i + 1 for i in flat])
            std = [1.0 if i in flat else s for i, s in enumerate(std)]
        return {
            "mean": [float(m) for m in mean],
            "std": [float(s) for s in std],
            "p1": [float(v) for v in p1],
            "p99": [float(v) for v in p99],
            "raw": {
                "mean": [float(m) for m in raw_mean], "std": [float(s) for s in raw_std],
                "min": [float(v) for v in lo], "max": [float(v) for v in hi],
            },
            "pixels": [int(p) for p in pixels],
            "images": self.images,
            "percentiles": "exact (per-band histogram)" if self.exact
            else f"uniform reservoir of up to {self.capacity} values per band",
        }


def _reservoir(
    sample: np.ndarray, values: np.ndarray, seen: int, capacity: int, rng: np.random.Generator
) -> np.ndarray:
    """Algorithm R over a batch: value number i (0-based, overall) lands in a random slot w.p. capacity/(i+1)."""
    room = capacity - len(sample)
    if room > 0:
        head = values[:room]
        sample = np.concatenate([sample, head])
        values, seen = values[room:], seen + len(head)
    if len(values) == 0:
        return sample
    positions = seen + np.arange(len(values))
    slots = (rng.random(len(values)) * (positions + 1)).astype(np.int64)  # uniform in [0, position]
    take = slots < capacity
    sample = sample.copy()
    sample[slots[take]] = values[take]
    return sample


def _hist_quantile(hist: np.ndarray, values: np.ndarray, q: float) -> float:
    """The smallest stored value whose cumulative share reaches ``q`` (inverted CDF)."""
    cumulative = np.cumsum(hist)
    index = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
    return float(values[min(index, len(values) - 1)])


def _hist_moments(hist: np.ndarray, values: np.ndarray, scale) -> tuple[list[float], list[float]]:  # noqa: ANN001
    means, stds = [], []
    for b, h in enumerate(hist):
        nz = np.nonzero(h)[0]
        v, c = scale(values[nz], b), h[nz].astype(np.float64)
        mean = float((v * c).sum() / c.sum())
        means.append(mean)
        stds.append(float(math.sqrt(max(((v - mean) ** 2 * c).sum() / c.sum(), 0.0))))
    return means, stds


def _scaler(spec: ScalingSpec | None, dtype: str, p1: list[float], p99: list[float]):  # noqa: ANN202
    """f(values, band) → scaled values: the same arithmetic as augment/scaling.ValueScaling."""
    if spec is None or spec.kind == "none":
        return lambda v, b: v
    if spec.kind == "auto":
        divisor = {"uint8": 255.0, "uint16": 65535.0}.get(dtype, 1.0)
        return lambda v, b: v / divisor
    if spec.kind == "divide":
        if not spec.value:
            raise UserError("scaling kind 'divide' needs a non-zero 'value'")
        return lambda v, b: v / float(spec.value)  # type: ignore[arg-type]
    if spec.kind == "ct_window":
        if spec.center is None or not spec.width:
            raise UserError("scaling kind 'ct_window' needs 'center' and 'width'")
        low = spec.center - spec.width / 2
        return lambda v, b: np.clip((v - low) / spec.width, 0.0, 1.0)
    # percentile_clip: explicit bounds, else this very run's p1/p99 (a stats file may not exist yet)
    lows = spec.low if spec.low is not None else p1
    highs = spec.high if spec.high is not None else p99

    def clip(v: np.ndarray, b: int) -> np.ndarray:
        lo, hi = lows[b if len(lows) > 1 else 0], highs[b if len(highs) > 1 else 0]
        return np.clip((v - lo) / max(hi - lo, 1e-12), 0.0, 1.0)

    return clip


def dataset_nodata(dataset: Dataset) -> tuple[float | None, bool]:
    """The nodata value and whether all-zero pixels count as nodata (GeoTIFF data only)."""
    from .datasets.scenes import SceneDataset

    if isinstance(dataset, SceneDataset):
        return dataset.nodata[0] if dataset.nodata else None, True
    info = getattr(dataset, "info", None)
    geo = bool(getattr(dataset, "georeferenced", False))
    card = getattr(dataset, "card", None)
    nodata = card.nodata if card is not None and card.nodata is not None else (info.nodata if info and geo else None)
    return nodata, geo


def compute_stats(
    dataset: Dataset,
    scaling: ScalingSpec | None = None,
    *,
    max_images: int | None = None,
    num_workers: int = 0,
    seed: int = 0,
    progress: bool = False,
    where: str = "stats",
) -> dict[str, Any]:
    """Statistics over ``dataset`` (every image, or ``max_images`` drawn at random with ``seed``);
    ``where`` (the data folder) starts the message when a band has no valid pixel."""
    from tqdm.auto import tqdm

    nodata, zero_is_nodata = dataset_nodata(dataset)
    dtype = str(torch.empty(0, dtype=dataset.dtype).numpy().dtype)
    stats = BandStats(dataset.in_chans, dtype, nodata, zero_is_nodata, seed=seed, where=where,
                      band_names=list(getattr(dataset, "band_names", []) or []))
    source: Dataset = dataset
    if max_images is not None and max_images < len(dataset):
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:max_images]
        source = Subset(dataset, sorted(order.tolist()))
    loader = DataLoader(source, batch_size=None, shuffle=False, num_workers=num_workers)
    with single_threaded():
        for sample in tqdm(loader, total=len(source), disable=not progress, desc="stats", unit="img"):
            stats.update(sample["image"].numpy())
    card = getattr(dataset, "card", None)
    out = stats_document(stats, scaling, list(getattr(dataset, "band_names", []) or []),
                         card.name if card is not None else None)
    labels = getattr(dataset, "labels", None)
    classes = getattr(dataset, "classes", None)
    if labels and classes and max_images is None:
        counts = np.bincount(np.asarray(labels), minlength=len(classes))
        out["class_counts"] = {c: int(n) for c, n in zip(classes, counts)}
    return out


def stats_document(
    stats: BandStats, scaling: ScalingSpec | None, bands: list[str], card: str | None
) -> dict[str, Any]:
    """stats.json's content from accumulated statistics (what ``Normalize`` and percentile_clip read)."""
    return {
        "bands": bands,
        "dtype": stats.dtype,
        "nodata": stats.nodata,
        "zero_is_nodata": stats.zero_is_nodata,
        "scaling": dataclasses.asdict(scaling) if scaling is not None else None,
        "units": "mean/std after the scaling above (what normalisation uses); p1/p99/raw in stored values",
        **stats.result(scaling),
        "card": card,
    }


def write_stats(stats: dict[str, Any], path: str | Path) -> None:
    atomic_write_text(Path(path), json.dumps(stats, indent=2) + "\n")
