"""Throughput and peak memory of one BYOL training step, variants side by side in one run.

    python benchmarks/pretrain_throughput.py [--backbone resnet18] [--image-size 64] [--batch-size 64]

Measures optimiser steps of the real BYOL module (online + target, 4096→256 MLPs, LARS, EMA update) on
pre-made views, so the figures are the model's cost alone; ``--with-augment`` adds the natural_rgb
two-view augmentation of a raw uint8 batch to each step. Variants: fp32, channels_last, bf16 autocast,
both. Variants alternate round by round so that machine noise hits them alike; reported: median img/s
and its ratio to fp32, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics

import torch
from alternating import alternate_rounds

from byol_transfer.augment.recipes import build_two_views, load_recipe
from byol_transfer.config import OptimConfig
from byol_transfer.models.backbones import create_backbone, feature_dim
from byol_transfer.models.byol import BYOL
from byol_transfer.models.ema import ema_tau
from byol_transfer.train.optim import build_optimizer

VARIANTS = {
    "fp32": dict(channels_last=False, bf16=False),
    "channels_last": dict(channels_last=True, bf16=False),
    "bf16": dict(channels_last=False, bf16=True),
    "bf16+channels_last": dict(channels_last=True, bf16=True),
}


def make_step(args, channels_last: bool, bf16: bool):
    torch.manual_seed(0)
    encoder = create_backbone(args.backbone, 3)
    model = BYOL(encoder, feature_dim(encoder))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, OptimConfig(), args.batch_size)
    views = build_two_views(load_recipe("natural_rgb"), args.image_size, 3)
    raw = torch.randint(0, 256, (args.batch_size, 3, args.image_size, args.image_size), dtype=torch.uint8)
    fixed = views(raw)
    state = {"k": 0}

    def step() -> None:
        v1, v2 = views(raw) if args.with_augment else fixed
        if channels_last:
            v1 = v1.contiguous(memory_format=torch.channels_last)
            v2 = v2.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(v1, v2).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.update_target(ema_tau(state["k"], 10_000))
        state["k"] += 1

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant per round")
    parser.add_argument("--with-augment", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="measure bf16 even without native CPU support")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print(f"BYOL step: {args.backbone}, {args.image_size} px, batch {args.batch_size}, 4096→256 MLPs, LARS"
          f"{', with natural_rgb augmentation' if args.with_augment else ''}")
    variants = dict(VARIANTS)
    if not (args.bf16 or torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        # emulated bf16 is ~20x slower than fp32 on such CPUs: not worth minutes of benchmark time
        print("this CPU has no native bf16: bf16 variants skipped (--bf16 forces them)")
        variants = {k: v for k, v in variants.items() if not v["bf16"]}
    steps = {name: make_step(args, **flags) for name, flags in variants.items()}
    for step in steps.values():  # warm-up
        step()
    rates = alternate_rounds(steps, args.rounds, args.steps, args.batch_size)
    base = statistics.median(rates["fp32"])
    print(f"{'variant':<20} {'img/s':>8} {'vs fp32':>8}")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<20} {median:8.1f} {median / base:7.2f}x")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (all variants): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
