"""BYOL pretraining, one readable loop from top to bottom (in the spirit of nanoGPT's train.py).

raw batch → device → two augmented views (+ local crops) → online/target forward → loss → optimiser step
→ EMA update → log → checkpoint. Resuming restores model, optimiser, scheduler, step, data position and RNG state,
so a resumed CPU run reproduces the losses of an uninterrupted one. ``dataset`` is map-style (read
through ``EpochSampler``) or a :class:`ShardStream` (webdataset shards, split over ranks and workers by
the stream itself; see data/shards/stream.py for what resuming means there).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..augment.recipes import build_two_views
from ..config import PretrainConfig, device_problem, save_yaml_atomic, to_dict
from ..data.datasets.cache import InMemoryDataset
from ..data.shards.stream import ShardStream
from ..errors import UserError
from ..io import atomic_write_text, remove_stale_temps, stale_temps
from ..machine import cpu_has_native_bf16, cpu_model_and_flags
from .budget import BudgetPlan, BudgetPlanner
from .precision import Precision, choose_precision
from ..models.backbones import create_backbone, feature_dim
from ..models.byol import BYOL, collapse_score
from ..models.ema import ema_tau
from ..models.finite import first_non_finite, require_finite
from ..models.weights import format_band_mapping, init_from_weights
from .checkpoint import (
    CHECKPOINT_NAME, NonFiniteState, load_checkpoint, rng_state, save_checkpoint, set_rng_state,
)
from .distributed import (
    DistContext, EpochSampler, gather_objects, init_distributed, mean_over_ranks, per_rank_batch, prepare_batchnorm,
    shutdown_distributed,
)
from .monitor import KnnMonitor
from .optim import build_optimizer, build_scheduler, lr_factor, scaled_lr
from .resume import check_resume_config
from .run_record import record_start

log = logging.getLogger(__name__)

METRIC_COLUMNS = [
    "step", "epoch", "loss", "tau", "lr", "img_per_s", "collapse", "elapsed_s",
    "knn_acc",  # the online k-NN monitor's accuracy (0–1), on the steps it runs; empty otherwise
]


class TrainingDiverged(Exception):
    """The loss or the weights became NaN or infinite; the last good (finite) checkpoint is kept."""


@dataclass
class PretrainResult:
    run_dir: Path
    steps: int
    final_loss: float
    checkpoint: Path
    model: BYOL  # the trained module (online + target), on the training device


def resolve_device(name: str) -> torch.device:
    problem = device_problem(name)
    if problem:
        raise UserError(f"--device {problem}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    return device


def check_model_channels(cfg: PretrainConfig, channels: int, where: str) -> None:
    """``model.in_chans`` (set, or taken from a checkpoint on resume) must be the data's channel count."""
    if cfg.model.in_chans and cfg.model.in_chans != channels:
        raise UserError(f"{where}: the images have {channels} channel(s) but the model takes "
                        f"{cfg.model.in_chans} (model.in_chans; on --resume, the checkpoint's)")


def total_steps(cfg: PretrainConfig, dataset_size: int) -> int:
    steps_per_epoch = dataset_size // cfg.data.batch_size
    if steps_per_epoch == 0:
        raise UserError(
            f"batch size {cfg.data.batch_size} is larger than the dataset ({dataset_size} images); "
            "lower --batch-size"
        )
    steps = cfg.train.epochs * steps_per_epoch
    return min(steps, cfg.train.max_steps) if cfg.train.max_steps is not None else steps


def pretrain(
    cfg: PretrainConfig,
    dataset: Dataset,
    run_dir: str | Path,
    *,
    resume: bool = False,
    stop_after_steps: int | None = None,
    progress: bool = True,
    monitor: KnnMonitor | None = None,
    allow_config_change: bool = False,
) -> PretrainResult:
    """Train BYOL on ``dataset`` (samples with an ``"image"`` tensor) and write ``run_dir``.

    ``stop_after_steps`` pauses the run after that many optimiser steps *without* changing its
    schedule (for job time limits); ``resume=True`` continues it later. ``monitor`` (see monitor.py)
    adds the online encoder's k-NN accuracy on a labelled set to metrics.csv every ``monitor.every`` steps.
    Under ``torchrun`` every process calls this; see distributed.py for what changes. On resume, a
    config that differs from the checkpoint's in what shapes the trajectory (batch size, LR, schedule)
    is refused unless ``allow_config_change`` (resume.py).
    """
    run_dir = Path(run_dir)
    if stop_after_steps is not None and stop_after_steps < 1:
        raise UserError(f"--stop-after-steps must be >= 1, got {stop_after_steps}")
    ctx, device, created_group = init_distributed(resolve_device(cfg.train.device))
    try:
        return _pretrain(cfg, dataset, run_dir, ctx, device, resume, stop_after_steps, progress, monitor,
                         allow_config_change)
    finally:
        if created_group:
            shutdown_distributed()


def _pretrain(
    cfg: PretrainConfig, dataset: Dataset, run_dir: Path, ctx: DistContext, device: torch.device, resume: bool,
    stop_after_steps: int | None, progress: bool, monitor: KnnMonitor | None, allow_config_change: bool,
) -> PretrainResult:
    ckpt_path = run_dir / CHECKPOINT_NAME
    check_model_channels(cfg, getattr(dataset, "in_chans"), cfg.data.path or "the data")
    in_chans = cfg.model.in_chans or getattr(dataset, "in_chans")
    input_dtype = getattr(dataset, "dtype", torch.uint8)
    local_batch = per_rank_batch(cfg.data.batch_size, ctx)
    config_dict = to_dict(cfg)
    config_dict["model"]["in_chans"] = in_chans
    state, trajectory_changes = None, {}
    if resume:
        state, trajectory_changes = _checkpoint_to_resume(ckpt_path, config_dict, allow_config_change)
    run_dir.mkdir(parents=True, exist_ok=True)
    if ctx.is_main:
        _remove_stale_temps(run_dir)

    # --- model, views, optimiser ------------------------------------------------------------------
    torch.manual_seed(cfg.train.seed)  # the same initial weights on every rank
    views = build_two_views(cfg.recipe, cfg.data.image_size, in_chans, input_dtype).to(device)
    encoder = create_backbone(cfg.model.backbone, in_chans)
    band_names = list(getattr(dataset, "band_names", None) or [])
    if cfg.model.init and state is None:  # on resume the checkpoint's weights win; the init is not re-applied
        _start_from(encoder, cfg, config_dict, band_names if len(band_names) == in_chans else in_chans)
    model = BYOL(  # the target encoder is a copy of the online one: both start from --init
        encoder, feature_dim(encoder),
        cfg.model.projector_hidden, cfg.model.projector_out, cfg.model.predictor_hidden,
        view_batchnorm=cfg.model.view_batchnorm,
    )
    model = prepare_batchnorm(model, device, ctx).to(device)
    if cfg.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if ctx.rank:  # different views on every rank (rank 0 keeps the single-process stream)
        torch.manual_seed(cfg.train.seed + 1_000_003 * ctx.rank)
    streaming = isinstance(dataset, ShardStream)
    dataset_size = dataset.samples_per_epoch if streaming else len(dataset)  # a stream: the index's total
    K = total_steps(cfg, dataset_size)  # noqa: N806 (K as in the paper's τ schedule)
    steps_per_epoch = dataset_size // cfg.data.batch_size
    optimizer = build_optimizer(model, cfg.optim, cfg.data.batch_size)  # LR from the global batch
    # a function, not the number: a time-budgeted run fixes K after timing its first steps (the closure
    # reads the variable K of this function, so the LR schedule follows the plan)
    scheduler = build_scheduler(optimizer, cfg.optim, lambda: K)

    step = 0
    saved_step: int | None = None  # the step of the last checkpoint this run wrote or resumed from
    if state is not None:
        model.load_state_dict(state["model"], strict=True)  # shapes were compared in check_resume_config
        fresh_groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = saved_step = int(state["step"])
        if trajectory_changes:
            _apply_new_hyperparameters(optimizer, scheduler, fresh_groups, cfg, step, K)
        rng_per_rank = state.get("rng_per_rank") or [state["rng"]]
        if len(rng_per_rank) == ctx.world_size:
            set_rng_state(rng_per_rank[ctx.rank])
        else:
            log.warning("resuming with %d processes instead of %d: augmentation draws are not reproduced",
                        ctx.world_size, len(rng_per_rank))
        if ctx.is_main:
            _truncate_metrics(run_dir / "metrics.csv", step)
        log.info("resumed %s at step %d of %d", run_dir, step, K)
    planner = None
    if cfg.train.time_budget_s is not None:
        stored = state.get("budget_plan") if state is not None else None
        planner = BudgetPlanner(cfg.train.time_budget_s, K, start_step=step,
                                plan=BudgetPlan.from_dict(stored) if stored else None,
                                elapsed_before_s=float(state.get("budget_elapsed_s", 0.0)) if state else 0.0)
        if planner.planned:  # resumed: the stored plan stands (this machine may be busier or idler now)
            K = planner.plan.planned_steps  # noqa: N806
            log.info("time budget: keeping the stored plan of %d steps", K)
    if ctx.is_main:
        save_yaml_atomic(config_dict, run_dir / "config.yaml")
    # DDP averages the online network's gradients; the target has none and follows by the same EMA on
    # every rank. Buffers (BN running statistics) are broadcast from rank 0 at each forward.
    train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if ctx.enabled else model
    if cfg.train.compile:
        train_model = torch.compile(train_model)

    # A dataset held in memory is served by indexing (microseconds); worker processes would only add
    # inter-process copies, ~5x slower on 2 cores (docs/benchmarks.md, "Data loading").
    num_workers = 0 if isinstance(dataset, InMemoryDataset) else cfg.data.num_workers
    if streaming:  # the stream splits shards over ranks and workers and never ends: no sampler
        sampler = None
        # fresh workers per epoch (not persistent): they must see the stream's new epoch and position
        loader = DataLoader(dataset, batch_size=local_batch, num_workers=num_workers,
                            pin_memory=device.type == "cuda",
                            generator=torch.Generator().manual_seed(cfg.train.seed))  # off the global RNG
    else:
        sampler = EpochSampler(len(dataset), cfg.train.seed, cfg.data.batch_size, ctx)
        loader = DataLoader(
            dataset,
            batch_size=local_batch,
            sampler=sampler,
            drop_last=True,  # BYOL's BatchNorm layers want full batches
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            persistent_workers=num_workers > 0,
            generator=torch.Generator().manual_seed(cfg.train.seed),  # keeps worker seeding off the global RNG
        )
    metrics = _MetricsWriter(run_dir / "metrics.csv", append=step > 0) if ctx.is_main else None
    precision = choose_precision(cfg.train.precision, device)
    if ctx.enabled and cfg.train.precision == "auto":  # every rank must autocast alike: bf16 only if all chose it
        agreed = torch.tensor([precision.name == "bf16"], dtype=torch.int32, device=device)
        torch.distributed.all_reduce(agreed, op=torch.distributed.ReduceOp.MIN)
        if precision.name == "bf16" and not agreed.item():
            precision = Precision("fp32", "auto: another rank chose fp32")
    if ctx.is_main:
        cpu = cpu_model_and_flags()[0]
        log.info("precision: %s (%s); CPU: %s%s", precision.name, precision.reason, cpu,
                 f"; GPU: {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
        record_start(run_dir, step, cfg.train.precision, precision)  # run.json: the machine and the choice
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision.name == "bf16")
    if precision.name == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        # Measured here: without AVX-512 BF16 / AMX, oneDNN emulates bf16 and a step runs ~20x slower.
        log.warning("this CPU has no native bf16 support: bf16 autocast will be much slower than fp32 "
                    "(use --set train.precision=fp32)")

    def kept() -> str:
        if saved_step is None:
            return "no checkpoint was written by this run"
        return f"last good checkpoint: {ckpt_path} (step {saved_step}, all tensors finite)"

    def save(at_step: int) -> None:
        nonlocal saved_step
        rng_per_rank = gather_objects(rng_state(), ctx)  # a collective: every rank takes part
        if ctx.is_main:
            try:
                save_checkpoint(ckpt_path, {
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "step": at_step, "total_steps": K,
                    "rng": rng_per_rank[0], "rng_per_rank": rng_per_rank, "config": config_dict,
                    "world_size": ctx.world_size, "band_names": band_names,
                    **({"budget_plan": planner.plan.to_dict(), "budget_elapsed_s": planner.elapsed()}
                       if planner is not None else {}),
                })
            except NonFiniteState as e:
                raise TrainingDiverged(f"{e} at step {at_step}; not saved; {kept()}. Lower optim.base_lr") from None
        saved_step = at_step

    # --- the loop ---------------------------------------------------------------------------------
    stop_at = K if stop_after_steps is None else min(K, step + stop_after_steps)
    bar = tqdm(total=K, initial=step, disable=not (progress and ctx.is_main), desc="pretrain", unit="step",
               dynamic_ncols=True)
    model.train()
    start_time = last_time = time.perf_counter()
    images_since_log = 0
    loss_value = float("nan")
    last_knn = ""
    batches = _stream_batches(loader, dataset, step, steps_per_epoch, local_batch) if streaming \
        else _batches(loader, sampler, step, steps_per_epoch, cfg.data.batch_size)
    while step < stop_at:
        try:
            batch = next(batches)
        except BaseException:  # a bad file or shard: end the progress line so the error gets its own line
            bar.close()
            raise
        images = batch["image"].to(device, non_blocking=True)
        # local crops (recipe.local_crops) are drawn after both global views: none → the same views as before
        view1, view2, local_views = views.with_local_views(images)
        if cfg.train.channels_last:
            view1 = view1.contiguous(memory_format=torch.channels_last)
            view2 = view2.contiguous(memory_format=torch.channels_last)
            local_views = [v.contiguous(memory_format=torch.channels_last) for v in local_views]
        with autocast:
            out = train_model(view1, view2, local_views)  # local views: online network only (models/byol.py)
        loss_value = mean_over_ranks(out.loss, ctx).item()  # the global batch's loss; NaN anywhere stops all
        if not math.isfinite(loss_value):
            bar.close()
            raise TrainingDiverged(
                f"loss became {loss_value} at step {step}; {kept()}. Lower optim.base_lr "
                "or use --set train.precision=fp32"
            )
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        scheduler.step()
        tau = ema_tau(step, K, cfg.ema.base_tau)
        model.update_target(tau)
        step += 1
        if planner is not None and (planned := planner.after_step(step)) is not None:
            K = planned  # noqa: N806 (the scheduler and τ follow it from the next step on)
            stop_at = min(stop_at, K)
            bar.total = K
            bar.refresh()
        # The loss above was computed before this update; weights it made NaN/inf would otherwise be
        # saved before the next loss shows them.
        # the optimised weights; the target follows them by EMA, and every save checks the whole state
        bad = first_non_finite((n, p) for n, p in model.named_parameters() if p.requires_grad)
        if bad is not None:
            bar.close()
            raise TrainingDiverged(
                f"weight {bad!r} became NaN or infinite in optimiser step {step} (lr "
                f"{optimizer.param_groups[0]['lr']:.3g}); not saved; {kept()}. Lower optim.base_lr"
                + _bf16_hint(precision.name, device, cfg)
            )
        images_since_log += images.shape[0] * ctx.world_size

        knn_due = monitor is not None and ctx.is_main and monitor.due(step, stop_at)
        if ctx.is_main and (step % cfg.train.log_every == 0 or step == stop_at or knn_due):
            now = time.perf_counter()
            knn_acc = monitor(model.online_encoder) if knn_due else None
            row = {
                "step": step, "epoch": (step - 1) // steps_per_epoch, "loss": loss_value, "tau": tau,
                "lr": optimizer.param_groups[0]["lr"], "img_per_s": images_since_log / max(now - last_time, 1e-9),
                "collapse": collapse_score(out.online_projection), "elapsed_s": now - start_time,
                "knn_acc": "" if knn_acc is None else knn_acc,
            }
            metrics.write(row)
            if row["collapse"] < cfg.train.collapse_warn_below:
                log.warning("step %d: projections are collapsing (collapse score %.3f)", step, row["collapse"])
            if knn_acc is not None:
                last_knn = f"{100 * knn_acc:.1f}%"
            bar.set_postfix(loss=f"{loss_value:.3f}", tau=f"{tau:.4f}", lr=f"{row['lr']:.2e}",
                            img_s=f"{row['img_per_s']:.0f}", **({"knn": last_knn} if last_knn else {}))
            last_time, images_since_log = time.perf_counter(), 0  # the monitor's time is not training time
        bar.update(1)
        if step % cfg.train.checkpoint_every == 0 or step == stop_at:
            save(step)
    bar.close()
    if metrics is not None:
        metrics.close()
    if planner is not None and ctx.is_main:
        report = planner.report(step)
        atomic_write_text(run_dir / "budget.json", json.dumps(report, indent=2) + "\n")
        planned_wall = report["planned_wall_s"]
        log.info("time budget %.0f s: %d steps in %.0f s of training (planned %s)", report["budget_s"], step,
                 report["actual_wall_s"], "-" if planned_wall is None else f"{planned_wall:.0f} s")
    return PretrainResult(run_dir, step, loss_value, ckpt_path, model)


def _start_from(encoder: torch.nn.Module, cfg: PretrainConfig, config_dict: dict, bands: list[str] | int) -> None:
    """Load ``model.init`` into ``encoder`` and record path, file hash and band mapping in ``config_dict``."""
    record = init_from_weights(encoder, cfg.model.init, cfg.model.backbone, bands, cfg.model.band_map)
    if cfg.model.init_sha256 and cfg.model.init_sha256 != record.sha256:
        raise UserError(f"--init {cfg.model.init}: the config records sha256 {cfg.model.init_sha256}, the file has "
                        f"{record.sha256} (changed since); --set model.init_sha256=null to accept it")
    config_dict["model"]["init_sha256"] = record.sha256
    config_dict["model"]["init_band_mapping"] = format_band_mapping(record.band_mapping)
    log.info("starting from %s (sha256 %s)", record.path, record.sha256[:12])


def _checkpoint_to_resume(ckpt_path: Path, config_dict: dict, allow_config_change: bool) -> tuple[dict | None, dict]:
    """The checkpoint to continue from (None: start from scratch) and the accepted config changes."""
    if not ckpt_path.exists():
        if stale_temps(ckpt_path.parent, CHECKPOINT_NAME):
            log.warning("--resume: no checkpoint was completed in %s; the first save was interrupted (its partial "
                        "file is removed); starting from scratch", ckpt_path.parent)
        else:
            log.warning("--resume: no checkpoint in %s yet, starting from scratch", ckpt_path.parent)
        return None, {}
    state = load_checkpoint(ckpt_path)
    changes = check_resume_config(state["config"], config_dict, str(ckpt_path), allow_config_change)
    require_finite(state["model"], str(ckpt_path))  # it may predate the finite check on save
    return state, changes


def _remove_stale_temps(run_dir: Path) -> None:
    """Temp files of writes a kill interrupted (they once piled up to 75 MB in a run folder)."""
    removed, nbytes = remove_stale_temps(run_dir)
    if removed:
        log.info("removed %d stale temp file(s) (%d bytes) left in %s by interrupted writes", removed, nbytes, run_dir)


def _apply_new_hyperparameters(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR,
                               fresh_groups: list[dict], cfg: PretrainConfig, step: int, total: int) -> None:
    """After loading a checkpoint with ``--allow-config-change``: the *new* LR scale and optimiser settings.

    ``load_state_dict`` restores the old learning rate (and its batch-size scaling) into the optimiser and
    the scheduler; without this the new batch size would train with the old scale.
    """
    for group, fresh in zip(optimizer.param_groups, fresh_groups):
        group.update(fresh)  # includes "initial_lr", the new peak LR the scheduler scales
    scheduler.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
    factor = lr_factor(step, total, cfg.optim.warmup_fraction, cfg.optim.final_lr_fraction)
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * factor
    log.warning("learning rate scale now: base_lr %g x batch %d / 256 = %g (peak); %g at step %d of %d",
                cfg.optim.base_lr, cfg.data.batch_size, scaled_lr(cfg.optim, cfg.data.batch_size),
                optimizer.param_groups[0]["lr"], step, total)


def _batches(loader: DataLoader, sampler: EpochSampler, step: int, steps_per_epoch: int, batch_size: int):
    """Endless batches starting at optimiser step ``step``, epoch by epoch."""
    epoch, done = divmod(step, steps_per_epoch)
    while True:
        sampler.set_position(epoch, done * batch_size)
        yield from loader
        epoch, done = epoch + 1, 0


def _stream_batches(loader: DataLoader, stream: ShardStream, step: int, steps_per_epoch: int, local_batch: int):
    """Endless batches of a shard stream: each epoch re-seeded from (seed, epoch), ``steps_per_epoch`` long;
    a resumed epoch skips the batches it had already served."""
    epoch, done = divmod(step, steps_per_epoch)
    while True:
        stream.set_position(epoch, done, local_batch)
        yield from itertools.islice(loader, steps_per_epoch - done)
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
            for key in ("loss", "tau", "lr", "img_per_s", "collapse", "knn_acc"):
                if row.get(key, "") != "":
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


def _bf16_hint(precision: str, device: torch.device, cfg) -> str:
    """Where a NaN comes from bf16 rather than the learning rate: the flags that avoid it.

    Measured (docs/pretraining.md, multi-crop): on an AMD EPYC with AVX-512-BF16, bf16 autocast with
    channels_last and 16 px local crops makes layer4's gradients NaN within 1-7 steps even at lr 1e-5,
    while fp32, or bf16 without channels_last, trains."""
    if precision != "bf16":
        return ""
    hint = " or use --set train.precision=fp32"
    if device.type == "cpu" and cfg.train.channels_last and cfg.recipe.local_crops.number > 0:
        hint += " (bf16 + channels_last + local crops diverges on some CPUs: or --set train.channels_last=false)"
    return hint

