"""Transform only the samples a Kornia op's probability gate picked, a cache-sized chunk at a time.

Kornia computes an op on the whole batch and then keeps the transformed rows with ``torch.where``. For an
op applied to 10-20% of the samples (grayscale, blur in view 2, solarize) that is 5-10x the work, and the
blend itself is a full extra pass. :class:`SelectedSamples` is a mixin for Kornia augmentation classes that
runs ``apply_transform`` on the chosen rows only and copies them into the output. Parameters, replay
(``op(x, params=op._params)``), ``same_on_batch`` and the transformation matrix are Kornia's own.

On a CPU, a batch-sized intermediate (150 MB for 256 RGB images of 224 px) lives in DRAM and, when freshly
allocated, costs tens of thousands of page faults; an op of twenty passes then spends most of its time
waiting for memory. So ``apply_transform`` runs on chunks of rows of about :data:`CHUNK_VALUES` values,
whose intermediates stay in cache and are reused by the allocator. Every op here treats samples
independently, so chunking does not change any value.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import kornia
from kornia.augmentation.utils.helpers import _transform_output_shape
from packaging.specifiers import SpecifierSet

# This mixin overrides Kornia's private ``transform_inputs`` and calls its private helpers, which change
# between minor releases (0.7.x and 0.8.x give other blur results on the same parameters). The range the
# test suite passed on; pyproject.toml pins the same range and tests/augment/test_kornia_range.py checks
# that both agree and that the private API still has the shape used here.
KORNIA_TESTED = SpecifierSet(">=0.9,<0.10")
if kornia.__version__ not in KORNIA_TESTED:
    raise ImportError(
        f"byol-transfer's batched augmentation ops are tested with kornia {KORNIA_TESTED}, but kornia "
        f"{kornia.__version__} is installed: pip install 'kornia{KORNIA_TESTED}'"
    )

# Set in the flags passed to apply_transform when its input is a tensor nobody else holds, so the op may
# work in it instead of allocating.
PRIVATE_INPUT = "_private_input"
CHUNK_VALUES = 2**19  # values per chunk (2 MB of float32): a few intermediates fit in L2/L3


def chunk_rows(rows: int, values_per_row: int, device: torch.device) -> int:
    """Rows per chunk: the whole batch on accelerators, cache-sized on CPU."""
    if device.type != "cpu":
        return max(1, rows)
    return max(1, CHUNK_VALUES // max(1, values_per_row))


class SelectedSamples:
    """Mixin placed *before* a Kornia augmentation base class.

    ``per_sample_params`` names the entries of ``params`` with one row per sample; they are subset together
    with the images. Every other entry (e.g. ColorJitter's ``order``) is passed through unchanged.
    """

    per_sample_params: tuple[str, ...] = ()
    # Parameter values for which apply_transform returns its input bit for bit (e.g. gain 1). When most
    # samples are selected, transforming the whole batch with these values for the others is cheaper
    # than gathering and scattering rows.
    neutral_params: dict[str, float] = {}
    # Set by the view builder when this op's input is always a fresh tensor of the view's own (made by an
    # earlier op): the selected rows are then written back into it instead of into a copy.
    inplace: bool = False

    def transform_inputs(
        self,
        input: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor] = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        params, flags = self._process_kwargs_to_params_and_flags(  # type: ignore[attr-defined]
            self._params if params is None else params, flags, **kwargs  # type: ignore[attr-defined]
        )
        shape = input.shape
        x = self.transform_tensor(input)  # type: ignore[attr-defined]
        self.validate_tensor(x)  # type: ignore[attr-defined]
        if self.p == 1.0 and self.p_batch == 1.0:  # type: ignore[attr-defined]
            out = self._apply_chunked(x, params, flags, transform, private=self.inplace)
        else:
            out = self._apply_selected(x, params, flags, transform)
        if torch.is_autocast_enabled():
            out = out.type(input.dtype)
        return _transform_output_shape(out, shape) if self.keepdim else out  # type: ignore[attr-defined]

    def _apply_selected(
        self,
        x: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor],
    ) -> torch.Tensor:
        # The gate lives where Kornia samples (the CPU by default), so this costs no device sync there.
        chosen = torch.nonzero(params["batch_prob"] > 0.5).flatten()
        n = x.shape[0]
        if chosen.numel() == n:
            return self._apply_chunked(x, params, flags, transform, private=self.inplace)
        if chosen.numel() == 0:
            return x  # Kornia's ops never write into their input, so sharing it is safe
        if self.neutral_params and 2 * chosen.numel() >= n:
            gate = params["batch_prob"] > 0.5
            neutral = dict(params)
            for key, value in self.neutral_params.items():
                drawn = params[key]
                keep = gate.to(drawn.device).view(-1, *([1] * (drawn.ndim - 1)))
                neutral[key] = torch.where(keep, drawn, torch.full_like(drawn, value))
            return self._apply_chunked(x, neutral, flags, transform, private=self.inplace)
        # Gather, transform and scatter the chosen rows a chunk at a time: no batch-sized intermediate.
        out = x if self.inplace else x.clone()
        flags = {**flags, PRIVATE_INPUT: True}  # the gathered rows are a copy of our own
        for group in chosen.split(chunk_rows(len(chosen), x[0].numel(), x.device)):
            rows = group.to(x.device, non_blocking=True)
            subset = {
                k: (v[group.to(v.device)] if k in self.per_sample_params else v) for k, v in params.items()
            }
            sub_transform = (transform[rows] if isinstance(transform, torch.Tensor) and transform.shape[0] == n
                             else transform)
            done = self.apply_transform(out.index_select(0, rows), subset, flags, transform=sub_transform)  # type: ignore[attr-defined]
            out.index_copy_(0, rows, done.to(out.dtype))
        return out

    def _apply_chunked(
        self,
        x: torch.Tensor,
        params: dict[str, torch.Tensor],
        flags: dict[str, Any],
        transform: Optional[torch.Tensor],
        private: bool,
    ) -> torch.Tensor:
        """``apply_transform`` over cache-sized chunks of rows; results go into ``x`` itself when it is private."""
        if private:
            flags = {**flags, PRIVATE_INPUT: True}
        n = x.shape[0]
        step = chunk_rows(n, x[0].numel() if n else 1, x.device)
        if step >= n:
            return self.apply_transform(x, params, flags, transform=transform)  # type: ignore[attr-defined]
        out: Optional[torch.Tensor] = None
        for start in range(0, n, step):
            end = min(start + step, n)
            part = {k: (v[start:end] if k in self.per_sample_params else v) for k, v in params.items()}
            part_transform = transform[start:end] if isinstance(transform, torch.Tensor) and transform.shape[0] == n else transform
            rows = x[start:end]
            done = self.apply_transform(rows, part, flags, transform=part_transform)  # type: ignore[attr-defined]
            if out is None:
                same_shape = done.shape[1:] == x.shape[1:] and done.dtype == x.dtype
                out = x if private and same_shape else done.new_empty((n, *done.shape[1:]))
            if done.data_ptr() != out[start:end].data_ptr():
                out[start:end] = done
        assert out is not None
        return out
