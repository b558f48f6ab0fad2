"""Data loading on ONE core: webdataset shards vs separate GeoTIFF tiles vs scene windows vs the in-memory cache.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/data_throughput.py [--tiles 512] [--rounds 5] [--out DIR]
    ... --memory-samples 8192 --memory-passes 3      # RSS while streaming the same shards several times
    ... --large-gb 30                                # also stream a shard set larger than RAM (disk permitting)

Writes its own test data into a temporary folder: ``--tiles`` 13-band 64×64 uint16 GeoTIFFs like EuroSAT
MS (one file per patch), one 2048×2048 scene (256-px internal tiles, deflate), and the same tiles packed
into webdataset shards by byol-transfer's shard writer (what ``byol-transfer prepare shards`` does). The
process is pinned to one core (``--core``) with one torch thread, and each source is read through a
DataLoader without workers (batch 128) — so the figure is what one DataLoader worker (one core) delivers.
Sources alternate round by round; each keeps one endless iterator, warmed up before the first round (file
handles, shuffle buffer, page cache), and every round times ``--patches`` patches. Reported: median and
min–max patches/s, the ratio to separate tiles, and what the per-core figure means at GPU rates:

- *demand*: ``--node-demand`` patches/s per node (5,000) over ``--gpus`` GPUs (8);
- *supply*, an extrapolation stated as such: ``--gpus`` × ``--workers-per-gpu`` workers (8 × 8), each on its
  own core at the measured per-core rate, i.e. linear scaling with cores and no shared bottleneck (the
  disk or network must then deliver demand × bytes per sample — printed);
- *data wait*: with prefetching workers the step waits only for the part of the demand the workers cannot
  supply, ``max(0, 1 − supply ÷ demand)``; the serial figure (loading inline in the training process,
  no workers) is ``t_load ÷ (t_load + t_step)`` at the per-GPU step rate. Neither includes the training
  process's cost of receiving batches from workers (shared-memory handles; not measured here).

Memory (``--memory-samples`` > 0): streams that many samples' worth of shards ``--memory-passes`` times
through a DataLoader with ``--memory-workers`` workers and samples the RSS of the training process and of
each worker (psutil) after every batch. The bound by construction: per worker a shuffle buffer of
``shuffle_buffer`` decoded samples plus its prefetched batches (``prefetch_factor`` × batch samples), plus
the batches in flight in the training process; nothing else grows with data read. RSS must stay level
while the bytes read grow (printed: RSS after the first pass and at the end, and the growth per GB read).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alternating import alternate, spread  # noqa: E402
from byol_transfer.machine import describe_machine  # noqa: E402
from synthetic_data import write_scene, write_tiles  # noqa: E402
from tables import write_table  # noqa: E402

from byol_transfer.data.build import build_dataset  # noqa: E402
from byol_transfer.data.shards import build_shard_stream, read_index, write_shards  # noqa: E402
from byol_transfer.data.shards.index import write_index  # noqa: E402
from byol_transfer.io import atomic_write_text  # noqa: E402

BATCH = 128
SHUFFLE_BUFFER = 1000  # build_shard_stream's default, what pretrain uses


def endless(make_loader: Callable[[], DataLoader]) -> Iterator[dict]:
    while True:
        yield from make_loader()


def map_style(dataset) -> Iterator[dict]:  # noqa: ANN001
    return endless(lambda: DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0))


def streamed(shards: Path, shuffle_buffer: int = SHUFFLE_BUFFER) -> Iterator[dict]:
    stream = build_shard_stream(shards, seed=0, shuffle_buffer=shuffle_buffer)  # endless: passes=None
    return iter(DataLoader(stream, batch_size=BATCH, num_workers=0))


def per_round(batches: Iterator[dict], patches: int) -> Callable[[], float]:
    next(batches)  # warm-up: open handles, fill the shuffle buffer, page cache

    def run_round() -> float:
        start, n = time.perf_counter(), 0
        while n < patches:
            n += next(batches)["image"].shape[0]
        return n / (time.perf_counter() - start)

    return run_round


def pin_to_one_core(core: int) -> str:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity on this OS)"


def gpu_rates(rate: float, args: argparse.Namespace, sample_bytes: float) -> list[str]:
    """What a per-core rate means for a GPU node (see the module docstring: an extrapolation)."""
    per_gpu = args.node_demand / args.gpus
    supply = rate * args.gpus * args.workers_per_gpu
    wait = max(0.0, 1 - supply / args.node_demand)
    t_load, t_step = 1 / rate, 1 / per_gpu
    serial = t_load / (t_load + t_step)
    return [
        f"demand {args.node_demand:,.0f} patches/s per node = {per_gpu:,.0f} per GPU ({args.gpus} GPUs)",
        f"supply, assuming {args.gpus} GPUs x {args.workers_per_gpu} workers each on its own core at "
        f"{rate:,.0f} patches/s per core: {supply:,.0f} patches/s ({supply / args.node_demand:.1f}x the demand); "
        f"workers needed per GPU: {per_gpu / rate:.2f}",
        f"data wait with those workers: {100 * wait:.1f}% of a step (target <= 5%); loading inline without "
        f"workers: {100 * serial:.1f}%",
        f"storage must deliver {args.node_demand * sample_bytes / 1e6:,.0f} MB/s per node "
        f"({sample_bytes / 1e3:.0f} kB per sample in the shards)",
    ]


# --- memory while streaming --------------------------------------------------------------------------

def rss_mib(process) -> tuple[float, float]:  # noqa: ANN001
    """RSS of the training process and the sum over its worker processes, MiB."""
    children = process.children()
    workers = sum(c.memory_info().rss for c in children if c.is_running())
    return process.memory_info().rss / 2**20, workers / 2**20


def stream_memory(shards: Path, passes: int, workers: int, log: dict) -> list[str]:
    import psutil

    index = read_index(shards)
    total = index.total
    sample_bytes = sum(s["bytes"] for s in index.shards) / total
    stream = build_shard_stream(shards, seed=0, shuffle_buffer=SHUFFLE_BUFFER)
    loader = DataLoader(stream, batch_size=BATCH, num_workers=workers, persistent_workers=workers > 0)
    me = psutil.Process()
    per_pass = max(1, round(total / BATCH))  # the stream is endless: every batch is full
    samples: list[tuple[float, float, float]] = []  # GB read, main RSS, workers' RSS
    batches = iter(loader)
    read = 0
    for _ in range(passes * per_pass):
        read += next(batches)["image"].shape[0]
        samples.append((read * sample_bytes / 1e9, *rss_mib(me)))
    del batches
    # reference: after the first pass (shuffle buffers full, every shard seen), or after a tenth of one pass
    warm = per_pass if passes > 1 else max(1, len(samples) // 10)
    after_first = samples[warm - 1]
    warm_name = "the first pass" if passes > 1 else f"the first {after_first[0]:.1f} GB"
    end = samples[-1]
    peak_main = max(s[1] for s in samples)
    peak_workers = max(s[2] for s in samples)
    gb_between = end[0] - after_first[0]
    growth = ((end[1] + end[2]) - (after_first[1] + after_first[2])) / gb_between if gb_between > 0 else 0.0
    prefetch = 2  # DataLoader's default prefetch_factor
    bound_mib = (max(workers, 1) * (SHUFFLE_BUFFER + prefetch * BATCH) + 2 * BATCH) * sample_bytes / 2**20
    log.setdefault("memory", []).append({"shards": str(shards), "samples": total, "passes": passes, "workers": workers,
                     "trace": samples[:: max(1, len(samples) // 200)], "bound_mib": bound_mib})
    return [
        f"streamed {end[0]:.2f} GB ({passes} pass{'es' if passes > 1 else ''} over {total:,} samples, "
        f"{total * sample_bytes / 1e9:.2f} GB of shards) with {workers} worker(s)",
        f"RSS after {warm_name}: training process {after_first[1]:.0f} MiB, workers {after_first[2]:.0f} MiB; "
        f"at the end: {end[1]:.0f} / {end[2]:.0f} MiB; peaks {peak_main:.0f} / {peak_workers:.0f} MiB",
        f"growth after {warm_name}: {growth:+.1f} MiB per GB read (level memory: about 0)",
        f"bound by construction for what streaming holds: {bound_mib:.0f} MiB (per worker {SHUFFLE_BUFFER} "
        f"buffered + {prefetch}x{BATCH} prefetched samples, plus 2 batches in the training process), on top of "
        "each process's fixed size (Python, torch, webdataset)",
    ]


def replicate_shards(source: Path, out: Path, target_gb: float) -> Path:
    """Real copies (not links: the page cache must not hold them all) of ``source``'s shards up to ``target_gb``."""
    index = read_index(source)
    out.mkdir(parents=True)
    shards, copies = [], 0
    size = sum(s["bytes"] for s in index.shards)
    while (copies * size) / 1e9 < target_gb:
        for s in index.shards:
            name = f"shard-{len(shards):06d}.tar"
            shutil.copyfile(source / s["name"], out / name)
            shards.append({**s, "name": name})
        copies += 1
    index.shards, index.total = shards, sum(s["samples"] for s in shards)
    write_index(index, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiles", type=int, default=512, help="separate GeoTIFF tiles (also packed as shards)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--bands", type=int, default=13)
    parser.add_argument("--scene", type=int, default=2048, help="scene side in pixels")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--patches", type=int, default=1024, help="patches timed per source per round")
    parser.add_argument("--core", type=int, help="the one CPU core to run on (default: the first this process may use)")
    parser.add_argument("--node-demand", type=float, default=5000.0, help="patches/s a GPU node consumes")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--workers-per-gpu", type=int, default=8)
    parser.add_argument("--memory-samples", type=int, default=8192, help="0: skip the memory measurement")
    parser.add_argument("--memory-passes", type=int, default=3)
    parser.add_argument("--memory-workers", type=int, default=2)
    parser.add_argument("--large-gb", type=float, default=0.0,
                        help="also stream copies of the memory shards up to this size once (needs the disk space)")
    parser.add_argument("--tmp", type=Path, help="where to write the test data (default: the system temp folder)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    all_cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    pinned = pin_to_one_core(args.core if args.core is not None else min(all_cores, default=0))
    torch.set_num_threads(1)
    log: dict = {"machine": describe_machine("webdataset", "rasterio", "numpy"), "pinned": pinned,
                 "settings": {k: str(v) for k, v in vars(args).items()}}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        tiles = write_tiles(tmp / "tiles", args.tiles, args.size, args.bands)
        scene = write_scene(tmp / "scene.tif", args.scene, args.bands)
        tile_data = build_dataset(tiles, args.size, card=False)
        report = write_shards(tile_data, tmp / "shards", shard_size_bytes=16 << 20, source=str(tiles))
        sample_bytes = sum(s["bytes"] for s in report.index.shards) / report.index.total
        shape = f"{args.bands}x{args.size}x{args.size} uint16"
        sources = {
            f"webdataset shards ({report.shards} x 16 MB, {args.tiles} samples)": streamed(tmp / "shards"),
            f"separate GeoTIFF tiles ({args.tiles} files)": map_style(tile_data),
            f"scene windows ({args.scene} px scene, 256-px blocks, deflate)":
                map_style(build_dataset(scene, args.size, card=False, min_valid=0.0)),
            "in-memory cache (cache=True)": map_style(build_dataset(tiles, args.size, card=False, cache=True)),
        }
        print(f"{log['machine']['cpu_model']}, {pinned}, 1 torch thread; {shape}, batch {BATCH}, "
              f"{args.rounds} rounds x {args.patches} patches, sources alternating", flush=True)
        rates = alternate({name: per_round(batches, args.patches) for name, batches in sources.items()}, args.rounds)
        log["rates_per_round"] = rates
        summary = {name: spread(values) for name, values in rates.items()}
        shards_name, tiles_name = list(summary)[:2]
        rows = [{"source": name, "patches/s (1 core)": f"{s['median']:,.0f}",
                 "min-max": f"{s['min']:,.0f}-{s['max']:,.0f}",
                 "vs separate tiles": f"{s['median'] / summary[tiles_name]['median']:.1f}x"}
                for name, s in summary.items()]
        print(write_table(rows, list(rows[0]), args.out, "data_throughput"))
        ratio = summary[shards_name]["median"] / summary[tiles_name]["median"]
        lines = [f"shards / separate tiles: {ratio:.1f}x (target >= 20x: {'met' if ratio >= 20 else 'NOT met'})"]
        lines += gpu_rates(summary[shards_name]["median"], args, sample_bytes)

        if args.memory_samples > 0:
            from synthetic_data import RandomTiles

            if hasattr(os, "sched_setaffinity"):  # the workers get the machine's cores back
                os.sched_setaffinity(0, all_cores)
            memory_shards = tmp / "memory_shards"
            # at least 4 shards per worker (every worker needs its own), at most 64 MB each
            shard_bytes = min(64 << 20, int(args.memory_samples * sample_bytes / (4 * max(1, args.memory_workers))))
            write_shards(RandomTiles(args.memory_samples, args.size, args.bands), memory_shards,
                         shard_size_bytes=shard_bytes, source="synthetic")
            lines += stream_memory(memory_shards, args.memory_passes, args.memory_workers, log)
            if args.large_gb > 0:
                free_gb = shutil.disk_usage(tmp).free / 1e9
                if free_gb < args.large_gb * 1.5:
                    lines.append(f"--large-gb {args.large_gb:g}: skipped, only {free_gb:.0f} GB free in {tmp}")
                else:
                    start = time.perf_counter()
                    large = replicate_shards(memory_shards, tmp / "large_shards", args.large_gb)
                    lines.append(f"copied {args.large_gb:g} GB of shards in {time.perf_counter() - start:.0f} s")
                    lines += stream_memory(large, 1, args.memory_workers, log)
        print("\n".join(lines))
        log["summary"] = lines
    if args.out:
        atomic_write_text(args.out / "run.json", json.dumps(log, indent=2) + "\n")


if __name__ == "__main__":
    main()
