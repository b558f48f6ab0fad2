"""The GPU benchmark suite: one run, under 8 minutes on one H200, ratios and absolute figures.

    bash benchmarks/gpu_suite.sh                 # on the GPU machine; results in $OUT (or runs/gpu_suite)
    python benchmarks/gpu_suite.py --smoke       # anywhere, on CPU, in seconds (tiny sizes): checks it all runs

Sections, in this order (each row is written to ``--out``/gpu_suite.{csv,md} as soon as it is measured):

a. ``augment``: every recipe's two views of a batch of 256 (64 and 224 px) on the device, from the integer
   batch a DataLoader delivers (value scaling and normalisation included), against the classic per-image
   CPU pipelines a user would run in DataLoader workers: torchvision v2 and albumentations with the
   BYOL paper's ops (RandomResizedCrop, flip, ColorJitter, RandomGrayscale, blur, solarize — as
   natural_rgb), one process on one core; the ratio is ours ÷ one core (a node's workers multiply the
   per-image figure by at most the cores they get).
b. ``step``: BYOL optimiser steps/s (LARS, EMA, 4096→256 MLPs, pre-made views: the model's cost alone) for
   resnet18 64 px (batch 256) and resnet50 224 px (batch 128) in fp32 (torch's default TF32 settings,
   recorded), channels_last, bf16 autocast, bf16 + channels_last and bf16 + channels_last +
   ``torch.compile`` (compile time reported apart, excluded from the timing); variants alternate round by
   round, medians, ratio to fp32.
c. ``stream``: shards → GPU end to end: synthetic 13×64×64 uint16 samples packed by byol-transfer's shard
   writer, streamed (``build_shard_stream``, shuffle buffer, DataLoader workers, pinned memory) to the
   device, satellite_multispectral views, resnet18 BYOL step (bf16 + channels_last): the loader alone, the
   step alone on device-resident data, and both together; the data wait is 1 − together ÷ step alone.

Timing: ``torch.cuda.synchronize()`` before and after every timed stretch; warm-up runs excluded. A time
guard (``--budget-s``, default 450 s) skips what would not fit, with the reason in the row, rather than
overrun; a failing measurement is recorded as a row with its error and the suite goes on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alternating import alternate  # noqa: E402
from byol_transfer.machine import describe_machine  # noqa: E402
from tables import write_table  # noqa: E402

from byol_transfer.augment.recipes import build_two_views, list_recipes, load_recipe  # noqa: E402
from byol_transfer.config import OptimConfig  # noqa: E402
from byol_transfer.io import atomic_write_text  # noqa: E402
from byol_transfer.models.backbones import create_backbone, feature_dim  # noqa: E402
from byol_transfer.models.byol import BYOL  # noqa: E402
from byol_transfer.models.ema import ema_tau  # noqa: E402
from byol_transfer.train.optim import build_optimizer  # noqa: E402

HEADER = ["section", "case", "variant", "value", "unit", "ratio", "note"]
STEP_VARIANTS = {  # name: (channels_last, bf16, compile)
    "fp32": (False, False, False),
    "channels_last": (True, False, False),
    "bf16": (False, True, False),
    "bf16+channels_last": (True, True, False),
    "bf16+channels_last+compile": (True, True, True),
}


@dataclass
class Sizes:
    """Everything the smoke run shrinks."""

    aug_sizes: list[int]
    aug_batch: int
    step_cases: list[tuple[str, int, int]]  # backbone, image size, batch
    step_rounds: int
    step_steps: int
    warmup: int
    stream_samples: int
    stream_shards: int
    stream_workers: int
    stream_batch: int
    stream_backbone: str
    stream_steps: int
    baseline_repeats: int


FULL = Sizes(aug_sizes=[64, 224], aug_batch=256, step_cases=[("resnet18", 64, 256), ("resnet50", 224, 128)],
             step_rounds=3, step_steps=20, warmup=3, stream_samples=8192, stream_shards=32, stream_workers=8,
             stream_batch=256, stream_backbone="resnet18", stream_steps=40, baseline_repeats=2)
SMOKE = Sizes(aug_sizes=[32], aug_batch=4, step_cases=[("byol_tiny_cnn", 32, 4), ("byol_tiny_cnn", 40, 4)],
              step_rounds=1, step_steps=2, warmup=1, stream_samples=32, stream_shards=2, stream_workers=1,
              stream_batch=4, stream_backbone="byol_tiny_cnn", stream_steps=2, baseline_repeats=1)


@dataclass
class Suite:
    device: torch.device
    out: Path | None
    budget_s: float
    smoke: bool
    started: float = field(default_factory=time.perf_counter)
    rows: list[dict] = field(default_factory=list)

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def fits(self, seconds: float) -> bool:
        return self.smoke or self.left() > seconds

    def add(self, section: str, case: str, variant: str, value: float | None = None, unit: str = "",
            ratio: float | None = None, note: str = "") -> None:
        row = {"section": section, "case": case, "variant": variant,
               "value": "" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.3g}", "unit": unit,
               "ratio": "" if ratio is None else f"{ratio:.2f}x", "note": note}
        self.rows.append(row)
        print(" | ".join(str(row[h]) for h in HEADER), flush=True)
        write_table(self.rows, HEADER, self.out, "gpu_suite")  # after every row: an overrun keeps what was measured

    def attempt(self, section: str, case: str, variant: str, fn: Callable[[], None]) -> None:
        """Run one measurement; a failure becomes a row, not the end of the suite."""
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            self.add(section, case, variant, note=f"failed: {type(e).__name__}: {str(e).splitlines()[0][:150]}")
        finally:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_of(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Best time of ``repeats`` calls after one warm-up call, synchronised."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


# --- a. augmentation ---------------------------------------------------------------------------------

def recipe_batch(recipe, n: int, size: int) -> torch.Tensor:  # noqa: ANN001
    """An integer batch of the kind the recipe's data arrive as (CPU; the caller moves it)."""
    count = recipe.channels.count  # an int, a list of ints, or "any" (multispectral: Sentinel-2's 13 bands)
    channels = count if isinstance(count, int) else max(count) if isinstance(count, list) else 13
    g = torch.Generator().manual_seed(0)
    if recipe.scaling.kind == "ct_window":
        return torch.randint(-1024, 1500, (n, channels, size, size), dtype=torch.int16, generator=g)
    if channels > 3:  # multispectral reflectance, uint16 as the GeoTIFFs store it
        return torch.randint(0, 5000, (n, channels, size, size), dtype=torch.int32, generator=g).to(torch.uint16)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)


def augment_section(suite: Suite, sizes: Sizes) -> None:
    from augment_throughput import albumentations_per_sample, torchvision_per_sample

    n = sizes.aug_batch
    for size in sizes.aug_sizes:
        ours_natural = None
        for recipe in list_recipes():
            def measure(recipe=recipe) -> None:  # noqa: ANN001
                nonlocal ours_natural
                batch = recipe_batch(recipe, n, size)
                if batch.shape[1] > 3 and recipe.normalize.mean is None:
                    # per-band statistics come from a data card; any will do for timing
                    recipe.normalize.mean, recipe.normalize.std = [0.1] * batch.shape[1], [0.05] * batch.shape[1]
                views = build_two_views(recipe, size, batch.shape[1], batch.dtype).to(suite.device)
                batch = batch.to(suite.device)
                seconds = seconds_of(lambda: views(batch), suite.device, 3)
                if recipe.name == "natural_rgb":
                    ours_natural = n / seconds
                suite.add("augment", f"{size} px, batch {n}", f"ours: {recipe.name} ({batch.shape[1]} ch)",
                          n / seconds, "img/s", note=f"{suite.device.type}, two views")

            if suite.fits(20):
                suite.attempt("augment", f"{size} px", recipe.name, measure)
            else:
                suite.add("augment", f"{size} px", recipe.name, note="skipped: time budget")
        rgb = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        for name, factory in (("torchvision v2 per image", torchvision_per_sample),
                              ("albumentations per image", albumentations_per_sample)):
            def baseline(name=name, factory=factory) -> None:  # noqa: ANN001
                with single_thread():
                    seconds = seconds_of(factory(rgb), torch.device("cpu"), sizes.baseline_repeats)
                rate = n / seconds
                ratio = ours_natural / rate if ours_natural else None
                suite.add("augment", f"{size} px, batch {n}", f"{name} (paper ops, CPU, 1 core)", rate, "img/s",
                          ratio, note="ratio: ours natural_rgb on the device ÷ this")

            if suite.fits(60 if size >= 224 else 20):
                suite.attempt("augment", f"{size} px", name, baseline)
            else:
                suite.add("augment", f"{size} px", name, note="skipped: time budget")


class single_thread:  # noqa: N801 (used as a context manager, like torch's own)
    """One intra-op thread: what one DataLoader worker (one core) gets."""

    def __enter__(self) -> None:
        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            import cv2

            self.cv2_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
        except ImportError:
            self.cv2_threads = None

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.threads)
        if self.cv2_threads is not None:
            import cv2

            cv2.setNumThreads(self.cv2_threads)


# --- b. BYOL steps -----------------------------------------------------------------------------------

def byol_step(backbone: str, in_chans: int, batch: int, device: torch.device, channels_last: bool, bf16: bool,
              compile_model: bool) -> tuple[Callable[[torch.Tensor, torch.Tensor], None], BYOL]:
    """One optimiser step as the training loop makes it (loss.item() included: the loop logs it)."""
    torch.manual_seed(0)
    encoder = create_backbone(backbone, in_chans)
    model = BYOL(encoder, feature_dim(encoder)).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compile_model else model
    optimizer = build_optimizer(model, OptimConfig(), batch)
    k = iter(range(10**9))

    def step(v1: torch.Tensor, v2: torch.Tensor) -> None:
        if channels_last:
            v1 = v1.contiguous(memory_format=torch.channels_last)
            v2 = v2.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = forward(v1, v2).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.update_target(ema_tau(next(k), 10_000))
        loss.item()

    return step, model


def step_section(suite: Suite, sizes: Sizes) -> None:
    for backbone, size, batch in sizes.step_cases:
        case = f"{backbone} {size} px, batch {batch}"
        v1 = torch.randn(batch, 3, size, size, device=suite.device)
        v2 = torch.randn(batch, 3, size, size, device=suite.device)
        rounds: dict[str, Callable[[], float]] = {}
        big = size >= 224
        for name, (channels_last, bf16, compile_model) in STEP_VARIANTS.items():
            if compile_model and suite.device.type != "cuda":
                # inductor's C++ build of even a tiny CNN took ~150 s on the 2-core CPU machine
                suite.add("step", case, name, note="skipped: torch.compile is measured on CUDA only")
                continue
            needed = (240 if big else 120) if compile_model else (40 if big else 15)
            if not suite.fits(needed):
                suite.add("step", case, name, note="skipped: time budget")
                continue

            def build(name=name, channels_last=channels_last, bf16=bf16, compile_model=compile_model) -> None:
                step, _ = byol_step(backbone, 3, batch, suite.device, channels_last, bf16, compile_model)
                start = time.perf_counter()
                for _ in range(sizes.warmup):  # compilation, cuDNN autotuning, allocator
                    step(v1, v2)
                sync(suite.device)
                warm = time.perf_counter() - start
                if compile_model:
                    suite.add("step", case, f"{name}: compile + {sizes.warmup} warm-up steps", warm, "s")

                def run_round() -> float:
                    sync(suite.device)
                    t0 = time.perf_counter()
                    for _ in range(sizes.step_steps):
                        step(v1, v2)
                    sync(suite.device)
                    return sizes.step_steps / (time.perf_counter() - t0)

                rounds[name] = run_round

            suite.attempt("step", case, name, build)
        if not rounds:
            continue
        try:
            rates = alternate(rounds, sizes.step_rounds)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            suite.add("step", case, "all variants", note=f"failed: {type(e).__name__}: {str(e).splitlines()[0][:150]}")
            continue
        base = statistics.median(rates["fp32"]) if "fp32" in rates else None
        for name, values in rates.items():
            median = statistics.median(values)
            suite.add("step", case, name, median, "steps/s", median / base if base else None,
                      note=f"{median * batch:.0f} img/s; min-max {min(values):.2f}-{max(values):.2f} steps/s; "
                           "ratio: vs fp32")
        rounds.clear()  # frees this case's models before the next case builds its own
        if suite.device.type == "cuda":
            torch.cuda.empty_cache()


# --- c. shards → GPU ---------------------------------------------------------------------------------

def workers_for_shared_memory(workers: int, batch_bytes: int) -> tuple[int, str]:
    """Fewer workers where /dev/shm is small (containers: often 64 MB): workers hand batches over through it,
    two prefetched per worker, and a full /dev/shm kills them with SIGBUS."""
    shm = Path("/dev/shm")
    if workers == 0 or not shm.is_dir():
        return workers, ""
    import shutil

    free = shutil.disk_usage(shm).free
    fitting = max(1, int(free // (4 * batch_bytes)))  # 2 prefetched per worker, twice over for headroom
    if fitting >= workers:
        return workers, f"/dev/shm {free / 2**30:.1f} GiB free"
    return fitting, f"only {fitting} worker(s): /dev/shm has {free / 2**20:.0f} MiB free"


def stream_section(suite: Suite, sizes: Sizes) -> None:
    from synthetic_data import write_random_shards
    from torch.utils.data import DataLoader

    from byol_transfer.data.shards import build_shard_stream

    workers, shm_note = workers_for_shared_memory(sizes.stream_workers, sizes.stream_batch * 13 * 64 * 64 * 2)
    case = f"13x64x64 uint16 shards, {workers} workers, batch {sizes.stream_batch}"
    if not suite.fits(90):
        suite.add("stream", case, "shards -> GPU", note="skipped: time budget")
        return
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        shards = write_random_shards(Path(tmp) / "shards", sizes.stream_samples, 64, 13, sizes.stream_shards)
        suite.add("stream", case, "packing (write_shards, 1 process)", sizes.stream_samples /
                  (time.perf_counter() - start), "samples/s")
        recipe = load_recipe("satellite_multispectral")
        recipe.normalize.mean, recipe.normalize.std = [0.1] * 13, [0.05] * 13
        views = build_two_views(recipe, 64, 13, torch.uint16).to(suite.device)
        step, _ = byol_step(sizes.stream_backbone, 13, sizes.stream_batch, suite.device, channels_last=True,
                            bf16=True, compile_model=False)
        loader = DataLoader(build_shard_stream(shards, seed=0), batch_size=sizes.stream_batch,
                            num_workers=workers, pin_memory=suite.device.type == "cuda",
                            persistent_workers=workers > 0, drop_last=True)
        feed = [iter(loader)]  # cleared at the end: its workers stop before the shards are deleted
        n, b = sizes.stream_steps, sizes.stream_batch

        def timed(body: Callable[[], None]) -> float:
            for _ in range(sizes.warmup):
                body()
            sync(suite.device)
            t0 = time.perf_counter()
            for _ in range(n):
                body()
            sync(suite.device)
            return n * b / (time.perf_counter() - t0)

        def load_only() -> None:
            next(feed[0])["image"].to(suite.device, non_blocking=True)

        resident = next(feed[0])["image"].to(suite.device)

        def step_only() -> None:
            step(*views(resident))

        def together() -> None:
            step(*views(next(feed[0])["image"].to(suite.device, non_blocking=True)))

        loader_rate = timed(load_only)
        suite.add("stream", case, "loader alone (to the device)", loader_rate, "samples/s", note=shm_note)
        step_rate = timed(step_only)
        suite.add("stream", case, f"views + {sizes.stream_backbone} step, data on the device", step_rate, "img/s",
                  note="bf16 + channels_last")
        both = timed(together)
        suite.add("stream", case, "shards -> views -> step", both, "img/s", both / step_rate,
                  note=f"ratio: vs the step alone; data wait {100 * max(0.0, 1 - both / step_rate):.1f}% of a step")
        feed.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on whatever device there is (seconds)")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:N")
    parser.add_argument("--out", type=Path, help="folder for gpu_suite.{csv,md} and run.json")
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting measurements after this")
    # the step section goes last: torch.compile's warm-up is the longest part, the first the guard cuts
    parser.add_argument("--sections", nargs="+", default=["augment", "stream", "step"],
                        choices=["augment", "step", "stream"])
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # what a training run on fixed sizes would use
    elif not args.smoke:
        print("no CUDA device: this suite is meant for a GPU (use --smoke for a quick check on CPU)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    sizes = SMOKE if args.smoke else FULL
    suite = Suite(device, args.out, args.budget_s, args.smoke)
    info = describe_machine("kornia", "torchvision", "albumentations", "timm", "webdataset")
    info.update(device=str(device), smoke=args.smoke, sizes=sizes.__dict__,
                tf32_matmul=torch.backends.cuda.matmul.allow_tf32, tf32_cudnn=torch.backends.cudnn.allow_tf32)
    print(f"device {device} ({info['cuda'] or info['cpu_model']}), torch {torch.__version__}; "
          f"budget {args.budget_s:.0f} s")
    print(" | ".join(HEADER))
    sections = {"augment": augment_section, "step": step_section, "stream": stream_section}
    for name in args.sections:
        if not suite.fits(10):
            suite.add(name, "", "", note="skipped: time budget")
            continue
        try:
            sections[name](suite, sizes)
        except Exception as e:  # noqa: BLE001 (one broken section must not lose the others' figures)
            traceback.print_exc()
            suite.add(name, "", "", note=f"failed: {type(e).__name__}: {str(e).splitlines()[0][:150]}")
    info["wall_s"] = time.perf_counter() - suite.started
    if args.out:
        atomic_write_text(args.out / "run.json", json.dumps(info, indent=2, default=str) + "\n")
    print(f"\ndone in {info['wall_s']:.0f} s")
    print(write_table(suite.rows, HEADER, None, "gpu_suite"))


if __name__ == "__main__":
    main()
