"""Data-parallel pretraining on PyTorch's own engine: ``torchrun`` starts the processes, DDP syncs gradients.

    torchrun --nproc_per_node=N -m byol_transfer pretrain ...            # one machine, N GPUs (or N CPU procs)
    torchrun --nnodes=M --node_rank=R --master_addr=HOST --nproc_per_node=N -m byol_transfer pretrain ...

What changes under DDP, and why:
- ``--batch-size`` stays the *global* batch (and the LR stays base × global/256); each rank takes
  global/world of every global batch, so the ranks together see exactly the batches one process would.
- Model init is identical on every rank (DDP broadcasts rank 0's weights at wrap time); augmentation is
  seeded per rank, so the ranks draw different views.
- Gradients of the online network are averaged by DDP, so online weights stay bit-identical across
  ranks; the EMA target is computed from them by the same deterministic update on every rank, so it stays
  identical too, with no communication. DDP's buffer broadcast keeps BN running statistics in step.
- BatchNorm: SyncBatchNorm on CUDA (BYOL's BN statistics over the global batch, as in the paper). On CPU
  (gloo) torch's SyncBatchNorm refuses to run, so BN normalises over each rank's share of the batch.
- Rank 0 alone writes config.yaml, metrics.csv, checkpoints and the progress bar; every rank can resume
  from the checkpoint, which holds each rank's RNG state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from ..errors import UserError


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device) -> tuple[DistContext, torch.device, bool]:
    """Join the process group torchrun set up (NCCL on CUDA, gloo on CPU); one process: a no-op.

    Returns the context, the device of this rank, and whether this call created the process group (a
    caller that created one itself, e.g. a notebook or a test, keeps it after training).
    """
    if not launched_by_torchrun():
        return DistContext(), device, False
    ctx = DistContext(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    if device.type == "cuda":
        device = torch.device("cuda", ctx.local_rank)
        torch.cuda.set_device(device)
    created = not dist.is_initialized()
    if created:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ctx, device, created


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def per_rank_batch(global_batch: int, ctx: DistContext) -> int:
    if global_batch % ctx.world_size:
        raise UserError(f"--batch-size {global_batch} (the global batch) must be divisible by the "
                        f"{ctx.world_size} processes")
    return global_batch // ctx.world_size


def prepare_batchnorm(model: nn.Module, device: torch.device, ctx: DistContext) -> nn.Module:
    """SyncBatchNorm across ranks on CUDA; plain BN on CPU, where torch's SyncBatchNorm cannot run."""
    if ctx.enabled and device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def mean_over_ranks(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """The mean of a scalar over ranks (the global batch's loss, as one process would log it)."""
    if not ctx.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / ctx.world_size


def gather_objects(obj: object, ctx: DistContext) -> list[object]:
    """``obj`` from every rank, in rank order (every rank receives the list)."""
    if not ctx.enabled:
        return [obj]
    gathered: list[object] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch that can start mid-epoch, sharded over ranks batch by batch.

    Global batch i is ``order[i·B : (i+1)·B]`` of the epoch's permutation, exactly as for one process;
    rank r takes the r-th contiguous share of it (B / world images). ``set_position`` takes the epoch and
    the index into the permutation (in global samples), so a resumed run, with any number of ranks,
    continues with the batches it would have seen.
    """

    def __init__(self, size: int, seed: int, global_batch: int | None = None, ctx: DistContext = DistContext()) -> None:
        self.size, self.seed, self.ctx = size, seed, ctx
        self.global_batch = global_batch or ctx.world_size
        self.local_batch = per_rank_batch(self.global_batch, ctx)
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start_index: int) -> None:
        self.epoch, self.start = epoch, start_index

    def _indices(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)[self.start :]
        if not self.ctx.enabled:
            return order
        batches = len(order) // self.global_batch  # an incomplete last batch is dropped on every rank alike
        shares = order[: batches * self.global_batch].view(batches, self.ctx.world_size, self.local_batch)
        return shares[:, self.ctx.rank].reshape(-1)

    def __iter__(self) -> Iterator[int]:
        return iter(self._indices().tolist())

    def __len__(self) -> int:
        return len(self._indices())
