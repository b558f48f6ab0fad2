"""Two-view augmentation throughput: our batched Kornia stack vs per-sample torchvision v2 and albumentations.

Measures, side by side in one run, the time to make both BYOL views of a batch of images held in memory as
integers (what the training loop gets after ``.to(device)``), including value scaling and normalisation:

* ``ours``            the recipe's ``TwoViews`` (batched, per-sample parameters, our faster ops)
* ``kornia stock``    the same paper ops with stock ``kornia.augmentation`` classes, batched
* ``torchvision v2``  the paper ops per sample on uint8 tensors, then stacked
* ``albumentations``  the paper ops per sample on HWC numpy arrays, then stacked

at 64 and 224 px for 3 channels (the paper's views) and 13 channels (Sentinel-2: the ops each library can
apply to 13 bands), plus every recipe on its own channel count, and the share of a resnet18 BYOL step
(fp32; ``--step-bf16`` on CPUs with native bf16) the augmentation of one batch costs. Times are the best
of ``--repeats`` runs after a warm-up; images/s counts images (each gives two views).

    .venv/bin/python benchmarks/augment_throughput.py              # everything (~15 minutes on a shared 2-core machine)
    .venv/bin/python benchmarks/augment_throughput.py --sizes 64 --no-step --keep-freed-memory

``--keep-freed-memory`` tells glibc's malloc to keep freed memory instead of returning large blocks to
the OS: every fresh image-sized tensor otherwise page-faults its way in (a 54 MB copy took 95 ms instead
of 18 ms on our machine). It applies to all pipelines alike.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from byol_transfer.augment.recipes import build_two_views, list_recipes, load_recipe  # noqa: E402

MEAN3, STD3 = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def kernel_size(size: int) -> int:
    return max(3, int(0.1 * size) // 2 * 2 + 1)  # as our gaussian_blur op


def best_of(fn: Callable[[], object], repeats: int) -> float:
    start = time.perf_counter()
    fn()  # warm-up: allocator, kernels, lazy imports
    if time.perf_counter() - start > 5:
        repeats = 1  # a pipeline that slow is not going to be measured better by repeating it
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# ------------------------------------------------------------------------------------------------ pipelines


def ours(recipe_name: str, batch: torch.Tensor, stats: bool = False) -> Callable[[], object]:
    recipe = load_recipe(recipe_name)
    if stats:  # the multispectral recipe takes per-band stats from a data card; any will do for timing
        recipe.normalize.mean, recipe.normalize.std = [0.1] * batch.shape[1], [0.05] * batch.shape[1]
    views = build_two_views(recipe, batch.shape[-1], batch.shape[1], batch.dtype)
    return lambda: views(batch)


def kornia_stock(batch: torch.Tensor) -> Callable[[], object]:
    import kornia.augmentation as K

    size = batch.shape[-1]

    def view(blur_p: float, solarize_p: float) -> K.AugmentationSequential:
        ops = [
            K.RandomResizedCrop((size, size), scale=(0.08, 1.0)),
            K.RandomHorizontalFlip(p=0.5),
            K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8),
            K.RandomGrayscale(p=0.2),
            K.RandomGaussianBlur(kernel_size(size), (0.1, 2.0), p=blur_p),
        ]
        if solarize_p:
            ops.append(K.RandomSolarize(thresholds=(0.5, 0.5), additions=0.0, p=solarize_p))
        return K.AugmentationSequential(*ops, data_keys=["input"])

    v1, v2 = view(1.0, 0.0), view(0.1, 0.2)
    mean, std = torch.tensor(MEAN3).view(1, 3, 1, 1), torch.tensor(STD3).view(1, 3, 1, 1)

    def run() -> object:
        x = batch.float() / 255
        return (v1(x) - mean) / std, (v2(x) - mean) / std

    return run


def torchvision_per_sample(batch: torch.Tensor) -> Callable[[], object]:
    from torchvision.transforms import v2 as T

    size, channels = batch.shape[-1], batch.shape[1]
    if channels == 3:
        def view(blur_p: float, solarize_p: float) -> T.Compose:
            return T.Compose([
                T.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
                T.RandomHorizontalFlip(),
                T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
                T.RandomGrayscale(p=0.2),
                T.RandomApply([T.GaussianBlur(kernel_size(size), sigma=(0.1, 2.0))], p=blur_p),
                T.RandomSolarize(128, p=solarize_p),
                T.ToDtype(torch.float32, scale=True),
                T.Normalize(MEAN3, STD3),
            ])
        images = list(batch)
    else:  # 13 bands: colour ops do not apply; crop, flips, quarter turns, blur, noise
        def view(blur_p: float, solarize_p: float) -> T.Compose:
            return T.Compose([
                T.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
                T.RandomHorizontalFlip(),
                T.RandomVerticalFlip(),
                T.Lambda(lambda x: torch.rot90(x, int(torch.randint(4, ())), dims=(-2, -1))),
                T.RandomApply([T.GaussianBlur(kernel_size(size), sigma=(0.1, 0.8))], p=blur_p),
                T.RandomApply([T.GaussianNoise(sigma=0.005, clip=False)], p=0.5),
                T.Normalize([0.1] * channels, [0.05] * channels),
            ])
        images = [im.float() / 10000 for im in batch]
    v1, v2 = view(1.0, 0.0), view(0.1, 0.2)
    return lambda: (torch.stack([v1(im) for im in images]), torch.stack([v2(im) for im in images]))


def albumentations_per_sample(batch: torch.Tensor) -> Callable[[], object]:
    import albumentations as A

    size, channels = batch.shape[-1], batch.shape[1]
    k = kernel_size(size)
    if channels == 3:
        def view(blur_p: float, solarize_p: float) -> A.Compose:
            return A.Compose([
                A.RandomResizedCrop(size=(size, size), scale=(0.08, 1.0)),
                A.HorizontalFlip(p=0.5),
                A.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1, p=0.8),
                A.ToGray(p=0.2),
                A.GaussianBlur(blur_limit=(k, k), sigma_limit=(0.1, 2.0), p=blur_p),
                A.Solarize(threshold_range=(0.5, 0.5), p=solarize_p),
                A.Normalize(MEAN3, STD3),
            ])
        images = [np.ascontiguousarray(im.permute(1, 2, 0).numpy()) for im in batch]
    else:
        def view(blur_p: float, solarize_p: float) -> A.Compose:
            return A.Compose([
                A.RandomResizedCrop(size=(size, size), scale=(0.08, 1.0)),
                A.HorizontalFlip(p=0.5),
                A.VerticalFlip(p=0.5),
                A.RandomRotate90(p=1.0),
                A.MultiplicativeNoise(multiplier=(0.8, 1.2), per_channel=True, elementwise=False, p=0.8),
                A.GaussianBlur(blur_limit=(k, k), sigma_limit=(0.1, 0.8), p=blur_p),
                A.GaussNoise(std_range=(0.005, 0.005), p=0.5),
                A.Normalize([0.1] * channels, [0.05] * channels, max_pixel_value=1.0),
            ])
        images = [np.ascontiguousarray(im.permute(1, 2, 0).numpy().astype(np.float32) / 10000) for im in batch]
    v1, v2 = view(1.0, 0.0), view(0.1, 0.2)

    def run() -> object:
        a = np.stack([v1(image=im)["image"] for im in images])
        b = np.stack([v2(image=im)["image"] for im in images])
        return torch.from_numpy(a).permute(0, 3, 1, 2), torch.from_numpy(b).permute(0, 3, 1, 2)

    return run


def byol_step_seconds(batch_size: int, size: int, bf16: bool) -> float:
    """One resnet18 BYOL optimiser step on two views, after a warm-up step."""
    from byol_transfer.models.backbones import create_backbone, feature_dim
    from byol_transfer.models.byol import BYOL

    encoder = create_backbone("resnet18", 3)
    model = BYOL(encoder, feature_dim(encoder))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    v1, v2 = torch.randn(batch_size, 3, size, size), torch.randn(batch_size, 3, size, size)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(v1, v2).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return best_of(step, 1)


# ------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-step", action="store_true", help="skip the BYOL step reference")
    parser.add_argument("--step-batch-size", type=int, default=64, help="batch for the BYOL step reference")
    parser.add_argument("--step-bf16", action="store_true",
                        help="bf16 autocast for the step (only faster on CPUs with native bf16, e.g. AVX-512 BF16)")
    parser.add_argument("--no-stock", action="store_true", help="skip stock Kornia (slow at 224 px)")
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="glibc mallopt: no mmap for large blocks, no trimming (fewer page faults)")
    args = parser.parse_args()
    if args.keep_freed_memory:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 2**30)  # M_MMAP_THRESHOLD: blocks below 1 GiB come from the heap
        libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD: keep freed heap memory

    torch.set_num_threads(args.threads)
    import cv2
    import albumentations
    import kornia
    import torchvision

    cv2.setNumThreads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} thread(s); "
          f"torch {torch.__version__}, kornia {kornia.__version__}, torchvision {torchvision.__version__}, "
          f"albumentations {albumentations.__version__}; batch {args.batch_size}, best of {args.repeats}"
          + ("; malloc keeps freed memory" if args.keep_freed_memory else ""))
    g = torch.Generator().manual_seed(0)
    n = args.batch_size
    rows: list[tuple[str, int, int, str, float]] = []

    def record(section: str, size: int, channels: int, name: str, fn: Callable[[], object], repeats: int) -> float:
        seconds = best_of(fn, repeats)
        rows.append((section, size, channels, name, seconds))
        print(f"{section:<22} {size:>4} px {channels:>3} ch  {name:<28} {seconds * 1000:9.1f} ms "
              f"{n / seconds:8.0f} img/s", flush=True)
        return seconds

    summary = []
    for size in args.sizes:
        rgb = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
        ms = torch.randint(0, 5000, (n, 13, size, size), dtype=torch.int32, generator=g).to(torch.uint16)
        # paper views, 3 channels
        t_ours = record("paper views", size, 3, "ours (natural_rgb)", ours("natural_rgb", rgb), args.repeats)
        t_stock = None
        if not args.no_stock:
            t_stock = record("paper views", size, 3, "kornia stock", kornia_stock(rgb), args.repeats)
        t_tv = record("paper views", size, 3, "torchvision v2 per-sample", torchvision_per_sample(rgb), args.repeats)
        t_alb = record("paper views", size, 3, "albumentations per-sample", albumentations_per_sample(rgb),
                       args.repeats)
        summary.append((size, 3, t_ours, t_stock, t_tv, t_alb))
        # 13 bands
        t_ours13 = record("13 bands", size, 13, "ours (satellite_multispectral)",
                          ours("satellite_multispectral", ms, stats=True), args.repeats)
        t_tv13 = record("13 bands", size, 13, "torchvision v2 per-sample", torchvision_per_sample(ms), args.repeats)
        t_alb13 = record("13 bands", size, 13, "albumentations per-sample", albumentations_per_sample(ms),
                         args.repeats)
        summary.append((size, 13, t_ours13, None, t_tv13, t_alb13))
        # every other recipe on its own data
        for recipe in list_recipes():
            if recipe.name in ("natural_rgb", "satellite_multispectral"):
                continue
            channels = recipe.channels.count if isinstance(recipe.channels.count, int) else 3
            if recipe.scaling.kind == "ct_window":
                data = torch.randint(-1024, 1500, (n, channels, size, size), dtype=torch.int16, generator=g)
            else:
                data = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)
            record("recipes (ours)", size, channels, recipe.name, ours(recipe.name, data), args.repeats)

    print("\n| size | bands | ours img/s | vs kornia stock | vs torchvision v2 | vs albumentations |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size, channels, t_ours, t_stock, t_tv, t_alb in summary:
        stock = f"{t_stock / t_ours:.1f}x" if t_stock else "–"
        print(f"| {size} | {channels} | {n / t_ours:.0f} | {stock} | {t_tv / t_ours:.1f}x | {t_alb / t_ours:.1f}x |")

    if not args.no_step and 64 in args.sizes:
        # per image: the step's time grows linearly with the batch at these sizes, so a smaller batch
        # gives the same img/s in a quarter of the time
        step = byol_step_seconds(args.step_batch_size, 64, args.step_bf16)
        per_image = step / args.step_batch_size
        t_ours64 = next(r[4] for r in rows if r[1] == 64 and r[3] == "ours (natural_rgb)")
        precision = "bf16" if args.step_bf16 else "fp32"
        print(f"\nresnet18 BYOL step, 64 px, batch {args.step_batch_size}, {precision}: {1 / per_image:.0f} img/s, "
              f"{per_image * n:.2f} s per {n} images; natural_rgb two views of {n}: {t_ours64 * 1000:.0f} ms "
              f"= {100 * t_ours64 / (per_image * n):.1f}% of a step")


if __name__ == "__main__":
    main()
