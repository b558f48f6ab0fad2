"""BYOL pretraining, one readable loop from top to bottom (in the spirit of nanoGPT's train.py).

raw batch → device → two augmented views → online/target forward → loss → optimiser step → EMA update
→ log → checkpoint. Resuming restores model, optimiser, scheduler, step, data position and RNG state,
so a resumed CPU run reproduces the losses of an uninterrupted one.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from ..augment.recipes import build_two_views
from ..config import PretrainConfig, from_dict, save_yaml_atomic, to_dict
from ..data.cache import InMemoryDataset
from ..errors import UserError
from ..io import atomic_write_text
from ..models.backbones import create_backbone, feature_dim
from ..models.byol import BYOL, collapse_score
from ..models.ema import ema_tau
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)

METRIC_COLUMNS = ["step", "epoch", "loss", "tau", "lr", "img_per_s", "collapse", "elapsed_s"]


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class PretrainResult:
    run_dir: Path
    steps: int
    final_loss: float
    checkpoint: Path


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch that can start mid-epoch, so a resumed run sees the same data."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed = size, seed
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start_index: int) -> None:
        self.epoch, self.start = epoch, start_index

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        return iter(order[self.start :].tolist())

    def __len__(self) -> int:
        return self.size - self.start


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    return device


def total_steps(cfg: PretrainConfig, dataset_size: int) -> int:
    steps_per_epoch = dataset_size // cfg.data.batch_size
    if steps_per_epoch == 0:
        raise UserError(
            f"batch size {cfg.data.batch_size} is larger than the dataset ({dataset_size} images); "
            "lower --batch-size"
        )
    steps = cfg.train.epochs * steps_per_epoch
    return min(steps, cfg.train.max_steps) if cfg.train.max_steps else steps


def pretrain(
    cfg: PretrainConfig,
    dataset: Dataset,
    run_dir: str | Path,
    *,
    resume: bool = False,
    stop_after_steps: int | None = None,
    progress: bool = True,
) -> PretrainResult:
    """Train BYOL on ``dataset`` (samples with an ``"image"`` tensor) and write ``run_dir``.

    ``stop_after_steps`` pauses the run after that many optimiser steps *without* changing its
    schedule (for job time limits); ``resume=True`` continues it later.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = run_dir / CHECKPOINT_NAME
    device = resolve_device(cfg.train.device)
    in_chans = cfg.model.in_chans or getattr(dataset, "in_chans")
    input_dtype = getattr(dataset, "dtype", torch.uint8)

    # --- model, views, optimiser ------------------------------------------------------------------
    torch.manual_seed(cfg.train.seed)
    views = build_two_views(cfg.recipe, cfg.data.image_size, in_chans, input_dtype).to(device)
    encoder = create_backbone(cfg.model.backbone, in_chans)
    model = BYOL(
        encoder, feature_dim(encoder),
        cfg.model.projector_hidden, cfg.model.projector_out, cfg.model.predictor_hidden,
    ).to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    K = total_steps(cfg, len(dataset))  # noqa: N806 (K as in the paper's τ schedule)
    steps_per_epoch = len(dataset) // cfg.data.batch_size
    optimizer = build_optimizer(model, cfg.optim, cfg.data.batch_size)
    scheduler = build_scheduler(optimizer, cfg.optim, K)

    step = 0
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        set_rng_state(state["rng"])
        _truncate_metrics(run_dir / "metrics.csv", step)
        log.info("resumed %s at step %d of %d", run_dir, step, K)
    elif resume:
        log.warning("--resume: no checkpoint in %s yet, starting from scratch", run_dir)
    config_dict = to_dict(cfg)
    config_dict["model"]["in_chans"] = in_chans
    save_yaml_atomic(config_dict, run_dir / "config.yaml")

    sampler = EpochSampler(len(dataset), cfg.train.seed)
    # A dataset held in memory is served by indexing (microseconds); worker processes would only add
    # inter-process copies, ~5x slower on 2 cores (docs/benchmarks.md, "Data loading").
    num_workers = 0 if isinstance(dataset, InMemoryDataset) else cfg.data.num_workers
    loader = DataLoader(
        dataset,
        batch_size=cfg.data.batch_size,
        sampler=sampler,
        drop_last=True,  # BYOL's BatchNorm layers want full batches
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(cfg.train.seed),  # keeps worker seeding off the global RNG
    )
    metrics = _MetricsWriter(run_dir / "metrics.csv", append=step > 0)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.train.precision == "bf16")
    if cfg.train.precision == "bf16" and device.type == "cpu" and not _cpu_has_native_bf16():
        # Measured here: without AVX-512 BF16 / AMX, oneDNN emulates bf16 and a step runs ~20x slower.
        log.warning("this CPU has no native bf16 support: bf16 autocast will be much slower than fp32 "
                    "(use --set train.precision=fp32)")

    def save(at_step: int) -> None:
        save_checkpoint(ckpt_path, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "step": at_step, "total_steps": K,
            "rng": rng_state(), "config": config_dict,
        })

    # --- the loop ---------------------------------------------------------------------------------
    stop_at = K if stop_after_steps is None else min(K, step + stop_after_steps)
    bar = tqdm(total=K, initial=step, disable=not progress, desc="pretrain", unit="step", dynamic_ncols=True)
    model.train()
    start_time = last_time = time.perf_counter()
    images_since_log = 0
    loss_value = float("nan")
    batches = _batches(loader, sampler, step, steps_per_epoch, cfg.data.batch_size)
    while step < stop_at:
        batch = next(batches)
        images = batch["image"].to(device, non_blocking=True)
        view1, view2 = views(images)
        if cfg.train.channels_last:
            view1 = view1.contiguous(memory_format=torch.channels_last)
            view2 = view2.contiguous(memory_format=torch.channels_last)
        with autocast:
            out = model(view1, view2)
        loss_value = out.loss.item()
        if not math.isfinite(loss_value):
            bar.close()
            kept = f"last good checkpoint: {ckpt_path}" if ckpt_path.exists() else "no checkpoint was written yet"
            raise TrainingDiverged(
                f"loss became {loss_value} at step {step}; {kept}. Lower optim.base_lr "
                "or use --set train.precision=fp32"
            )
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        scheduler.step()
        tau = ema_tau(step, K, cfg.ema.base_tau)
        model.update_target(tau)
        step += 1
        images_since_log += images.shape[0]

        if step % cfg.train.log_every == 0 or step == stop_at:
            now = time.perf_counter()
            row = {
                "step": step, "epoch": (step - 1) // steps_per_epoch, "loss": loss_value, "tau": tau,
                "lr": optimizer.param_groups[0]["lr"], "img_per_s": images_since_log / max(now - last_time, 1e-9),
                "collapse": collapse_score(out.online_projection), "elapsed_s": now - start_time,
            }
            metrics.write(row)
            if row["collapse"] < cfg.train.collapse_warn_below:
                log.warning("step %d: projections are collapsing (collapse score %.3f)", step, row["collapse"])
            bar.set_postfix(loss=f"{loss_value:.3f}", tau=f"{tau:.4f}", lr=f"{row['lr']:.2e}",
                            img_s=f"{row['img_per_s']:.0f}")
            last_time, images_since_log = now, 0
        bar.update(1)
        if step % cfg.train.checkpoint_every == 0 or step == stop_at:
            save(step)
    bar.close()
    metrics.close()
    return PretrainResult(run_dir, step, loss_value, ckpt_path)


def _cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _batches(loader: DataLoader, sampler: EpochSampler, step: int, steps_per_epoch: int, batch_size: int):
    """Endless batches starting at optimiser step ``step``, epoch by epoch."""
    epoch, done = divmod(step, steps_per_epoch)
    while True:
        sampler.set_position(epoch, done * batch_size)
        yield from loader
        epoch, done = epoch + 1, 0


class _MetricsWriter:
    """metrics.csv, one row per log step (and TensorBoard scalars when tensorboard is installed)."""

    def __init__(self, path: Path, append: bool) -> None:
        self.path = path
        fresh = not (append and path.exists())
        self.file = path.open("w" if fresh else "a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=METRIC_COLUMNS)
        if fresh:
            self.writer.writeheader()
        self.tensorboard = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(path.parent / "tensorboard"))
        except ImportError:
            pass

    def write(self, row: dict) -> None:
        self.writer.writerow(row)
        self.file.flush()
        if self.tensorboard is not None:
            for key in ("loss", "tau", "lr", "img_per_s", "collapse"):
                self.tensorboard.add_scalar(f"pretrain/{key}", row[key], row["step"])

    def close(self) -> None:
        self.file.close()
        if self.tensorboard is not None:
            self.tensorboard.close()


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop rows logged after the checkpoint we resume from (they will be logged again)."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=METRIC_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def config_from_checkpoint(state: dict) -> PretrainConfig:
    return from_dict(PretrainConfig, state["config"], "checkpoint config")
