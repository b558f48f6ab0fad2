"""End-to-end pretraining from files on disk: byol-transfer vs lightly vs byol-pytorch, alternated in one run.

The real measurement (run it ALONE on the machine: other jobs on the same cores ruin the figures;
about 20 minutes on 2 idle cores, up to 40 under load: a byol-transfer step of 128 images takes ~3 s
there, a byol-pytorch step ~15-25 s):

    cd REPO && PYTHONPATH=$PWD HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/end_to_end.py \\
        --data ../shared/data/eurosat_rgb --rounds 3 --steps 6 --warmup 2 --out runs/end_to_end

A check that everything runs (~5 minutes on 2 busy cores): ``--steps 3 --rounds 1 --warmup 1``.

Images/s of the whole pipeline — reading + decoding + augmentation + BYOL step — for resnet18, 64 px,
batch 128, on the same files (EuroSAT RGB JPEGs: byol-transfer's training split, the same file list for
every pipeline). Variants, each as its library documents it:

- ``byol-transfer``: the library's ``pretrain()`` with its defaults, as ``byol-transfer pretrain`` runs
  it: ``cache="auto"`` (the decoded tiles held in memory, no DataLoader workers), the recipe's two views
  made in-process on the whole batch (batched Kornia ops), the default precision (``train.precision``),
  LARS, 4096→256 MLPs. The one-time decode of the cache is timed and reported apart.
- ``byol-transfer, no cache``: the same, reading and decoding the JPEGs in ``--workers`` DataLoader workers.
- ``byol-transfer, views in workers``: the same model and optimiser fed from the cache, but each image's
  two views made per image in ``--workers`` DataLoader workers (the recipe's ops on a batch of one):
  in-process batched views vs worker augmentation, nothing else changed.
- ``byol-transfer, channels_last`` (an option, not the default), and ``bf16`` where the device has
  native bf16 (CUDA, or a CPU with AVX-512 BF16 / AMX).
- ``lightly``: its BYOL example (examples/pytorch/byol.py, lightly 1.6): torchvision resnet18 without
  its fc, ``BYOLProjectionHead(512, 1024, 256)``, ``BYOLPredictionHead(256, 1024, 256)``, momentum copies,
  ``cosine_schedule``, ``NegativeCosineSimilarity``, four forward passes per step, SGD lr 0.06;
  ``LightlyDataset(input_dir, transform=BYOLTransform(BYOLView1Transform(input_size=64),
  BYOLView2Transform(input_size=64)))`` in a DataLoader with ``--workers`` workers.
- ``byol-pytorch``: its README: ``BYOL(resnet18, image_size=64, hidden_layer="avgpool")`` with its
  defaults (batched torchvision augmentation inside ``forward``), Adam lr 3e-4,
  ``update_moving_average()``; images loaded as in its example (PIL → Resize → CenterCrop → ToTensor)
  in ``--workers`` DataLoader workers.

Every round runs every variant in turn (alternating, so machine noise hits all alike): a fresh data
loader, ``--warmup`` untimed steps (worker start, first batches, allocator), then ``--steps`` timed steps.
For the ``pretrain()`` variants the time comes from its own metrics.csv (``elapsed_s`` after each step,
``train.log_every=1``). Reported: median and min–max img/s over the rounds, ratios to each peer; CPU
model and flags, versions and every round's figure in ``--out``/run.json, tables in
``--out``/end_to_end.{csv,md}. A peer library that is not installed is skipped with a message.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alternating import alternate, spread  # noqa: E402
from byol_transfer.machine import describe_machine  # noqa: E402
from tables import write_table  # noqa: E402

from byol_transfer.augment.recipes import build_two_views, load_recipe  # noqa: E402
from byol_transfer.config import to_dict  # noqa: E402
from byol_transfer.data.build import build_dataset  # noqa: E402
from byol_transfer.data.recipe_card import apply_card  # noqa: E402
from byol_transfer.io import atomic_write_text  # noqa: E402
from byol_transfer.models.backbones import create_backbone, feature_dim  # noqa: E402
from byol_transfer.models.byol import BYOL  # noqa: E402
from byol_transfer.models.ema import ema_tau  # noqa: E402
from byol_transfer.train.loop import pretrain, resolve_device  # noqa: E402
from byol_transfer.train.optim import build_optimizer  # noqa: E402
from byol_transfer.train.run_config import resolve_config  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "eurosat_rgb"


def endless(make_loader: Callable[[], DataLoader]) -> Iterator:
    """Batches from a fresh loader, epoch after epoch (small test folders hold fewer batches than a round)."""
    loader = make_loader()
    while True:
        yield from loader


def timed_round(make_loader: Callable[[], DataLoader], step: Callable[[object], None], warmup: int, steps: int,
                batch: int, device: torch.device) -> float:
    """img/s over ``steps`` steps after ``warmup`` untimed ones, from a fresh loader (its workers start anew)."""
    batches = endless(make_loader)
    for _ in range(warmup):
        step(next(batches))
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(next(batches))
    synchronize(device)
    rate = steps * batch / (time.perf_counter() - start)
    batches.close()  # ends the loader's worker processes before the next variant runs
    return rate


def loader_factory(dataset: Dataset, args: argparse.Namespace, device: torch.device) -> Callable[[], DataLoader]:
    """What the peers' examples build: shuffled, full batches, ``--workers`` worker processes."""
    return lambda: DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=True,
                              num_workers=args.workers, pin_memory=device.type == "cuda")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --- byol-transfer -----------------------------------------------------------------------------------

def pretrain_config(args: argparse.Namespace, dataset: Dataset, sets: list[str]):
    """The config ``byol-transfer pretrain --config RECIPE --image-size --batch-size --max-steps`` builds."""
    base = {"recipe": to_dict(load_recipe(args.recipe))}
    flags = {"data.path": str(args.data), "data.image_size": args.image_size, "data.batch_size": args.batch_size,
             "train.max_steps": args.warmup + args.steps, "train.device": args.device, "model.backbone": "resnet18"}
    cfg = resolve_config(base, args.recipe, flags, [
        "train.log_every=1", "train.checkpoint_every=1000000000", f"data.num_workers={args.workers}", *sets])
    if getattr(dataset, "card", None) is not None:  # as the CLI does: the card's scaling and statistics
        apply_card(cfg.recipe, dataset.card)
    return cfg


def pretrain_round(args: argparse.Namespace, dataset: Dataset, sets: list[str]) -> Callable[[], float]:
    """One call of the library's pretrain(); img/s between the warm-up's last step and the final step."""

    def run_round() -> float:
        cfg = pretrain_config(args, dataset, sets)
        with tempfile.TemporaryDirectory() as run_dir:
            pretrain(cfg, dataset, run_dir, progress=False)
            with (Path(run_dir) / "metrics.csv").open(newline="") as f:
                elapsed = {int(r["step"]): float(r["elapsed_s"]) for r in csv.DictReader(f)}
        last = args.warmup + args.steps
        return args.steps * args.batch_size / (elapsed[last] - elapsed[args.warmup])

    return run_round


class ViewsPerImage(Dataset):
    """The recipe's two views made inside the DataLoader worker, one image at a time."""

    def __init__(self, dataset: Dataset, views: nn.Module) -> None:
        self.dataset, self.views = dataset, views

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            v1, v2 = self.views(self.dataset[index]["image"][None])
        return v1[0], v2[0]


def views_in_workers_round(args: argparse.Namespace, cached: Dataset, device: torch.device) -> Callable[[], float]:
    cfg = pretrain_config(args, cached, [])
    torch.manual_seed(0)
    encoder = create_backbone(cfg.model.backbone, cached.in_chans)
    model = BYOL(encoder, feature_dim(encoder), cfg.model.projector_hidden, cfg.model.projector_out,
                 cfg.model.predictor_hidden).to(device)
    optimizer = build_optimizer(model, cfg.optim, cfg.data.batch_size)
    views = build_two_views(cfg.recipe, cfg.data.image_size, cached.in_chans, cached.dtype)
    data = ViewsPerImage(cached, views)
    k = iter(range(10**9))

    def step(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        v1, v2 = (v.to(device, non_blocking=True) for v in batch)
        loss = model(v1, v2).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.update_target(ema_tau(next(k), 10_000, cfg.ema.base_tau))

    return lambda: timed_round(loader_factory(data, args, device), step, args.warmup, args.steps, args.batch_size,
                               device)


# --- lightly -----------------------------------------------------------------------------------------

def lightly_round(args: argparse.Namespace, files: list[Path], device: torch.device) -> Callable[[], float]:
    import torchvision
    from lightly.data import LightlyDataset
    from lightly.loss import NegativeCosineSimilarity
    from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum
    from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform
    from lightly.utils.scheduler import cosine_schedule

    class LightlyBYOL(nn.Module):  # lightly's examples/pytorch/byol.py
        def __init__(self, backbone: nn.Module) -> None:
            super().__init__()
            self.backbone = backbone
            self.projection_head = BYOLProjectionHead(512, 1024, 256)
            self.prediction_head = BYOLPredictionHead(256, 1024, 256)
            self.backbone_momentum = copy.deepcopy(self.backbone)
            self.projection_head_momentum = copy.deepcopy(self.projection_head)
            deactivate_requires_grad(self.backbone_momentum)
            deactivate_requires_grad(self.projection_head_momentum)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.prediction_head(self.projection_head(self.backbone(x).flatten(start_dim=1)))

        def forward_momentum(self, x: torch.Tensor) -> torch.Tensor:
            return self.projection_head_momentum(self.backbone_momentum(x).flatten(start_dim=1)).detach()

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18()
    model = LightlyBYOL(nn.Sequential(*list(resnet.children())[:-1])).to(device)
    transform = BYOLTransform(view_1_transform=BYOLView1Transform(input_size=args.image_size),
                              view_2_transform=BYOLView2Transform(input_size=args.image_size))
    dataset = LightlyDataset(input_dir=str(args.data), transform=transform,
                             filenames=[str(p.relative_to(args.data)) for p in files])
    criterion = NegativeCosineSimilarity()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.06)
    k = iter(range(10**9))

    def step(batch) -> None:  # noqa: ANN001
        x0, x1 = batch[0]
        momentum = cosine_schedule(next(k), 10_000, 0.996, 1)
        update_momentum(model.backbone, model.backbone_momentum, m=momentum)
        update_momentum(model.projection_head, model.projection_head_momentum, m=momentum)
        x0, x1 = x0.to(device), x1.to(device)
        p0, z0 = model(x0), model.forward_momentum(x0)
        p1, z1 = model(x1), model.forward_momentum(x1)
        loss = 0.5 * (criterion(p0, z1) + criterion(p1, z0))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return lambda: timed_round(loader_factory(dataset, args, device), step, args.warmup, args.steps, args.batch_size,
                               device)


# --- byol-pytorch ------------------------------------------------------------------------------------

class ImagesDataset(Dataset):
    """byol-pytorch's example loader (examples/lightning/train.py): PIL → Resize → CenterCrop → ToTensor."""

    def __init__(self, files: list[Path], image_size: int) -> None:
        from torchvision import transforms as T

        self.files = files
        self.transform = T.Compose([T.Resize(image_size), T.CenterCrop(image_size), T.ToTensor()])

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        from PIL import Image

        return self.transform(Image.open(self.files[index]).convert("RGB"))


def byol_pytorch_round(args: argparse.Namespace, files: list[Path], device: torch.device) -> Callable[[], float]:
    import torchvision
    from byol_pytorch import BYOL as LucidBYOL

    torch.manual_seed(0)
    learner = LucidBYOL(torchvision.models.resnet18(), image_size=args.image_size, hidden_layer="avgpool").to(device)
    optimizer = torch.optim.Adam(learner.parameters(), lr=3e-4)
    dataset = ImagesDataset(files, args.image_size)

    def step(images: torch.Tensor) -> None:
        loss = learner(images.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        learner.update_moving_average()

    return lambda: timed_round(loader_factory(dataset, args, device), step, args.warmup, args.steps, args.batch_size,
                               device)


# --- main --------------------------------------------------------------------------------------------

def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def build_variants(args: argparse.Namespace, device: torch.device, log: dict) -> dict[str, Callable[[], float]]:
    start = time.perf_counter()
    cached = build_dataset(args.data, args.image_size, cache="auto")
    log["cache_decode_s"] = time.perf_counter() - start
    log["images"] = len(cached)
    log["cached"] = type(cached).__name__ == "InMemoryDataset"
    on_disk = build_dataset(args.data, args.image_size, cache=False)
    files = [Path(p) for p in on_disk.files]  # the same file list for every pipeline
    log["precision_default"] = pretrain_config(args, cached, []).train.precision
    variants: dict[str, Callable[[], float]] = {
        "byol-transfer": pretrain_round(args, cached, []),
        "byol-transfer, no cache": pretrain_round(args, on_disk, []),
        "byol-transfer, views in workers": views_in_workers_round(args, cached, device),
        "byol-transfer, channels_last (option)": pretrain_round(args, cached, ["train.channels_last=true"]),
    }
    if native_bf16(device):
        variants["byol-transfer, bf16 (option)"] = pretrain_round(args, cached, ["train.precision=bf16"])
    else:
        log["skipped"]["byol-transfer, bf16 (option)"] = "no native bf16 on this device (emulated bf16 is ~20x slower)"
    for name, factory in (("lightly", lightly_round), ("byol-pytorch", byol_pytorch_round)):
        try:
            variants[name] = factory(args, files, device)
        except ImportError as e:
            log["skipped"][name] = f"not installed ({e.name}): pip install -e '.[bench]'"
    chosen = {name: v for name, v in variants.items() if not args.only or name in args.only}
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a folder of images (default: EuroSAT RGB)")
    parser.add_argument("--recipe", default="natural_rgb",
                        help="byol-transfer's recipe (natural_rgb: the paper's views, as the peers' defaults)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers where a pipeline uses them")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads of the trainer")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", nargs="+", help="run only these variants (names as printed)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"--data {args.data}: not a folder")
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    log: dict = {"machine": describe_machine("lightly", "byol-pytorch", "kornia", "torchvision", "timm"),
                 "settings": {k: str(v) for k, v in vars(args).items()}, "skipped": {}}
    variants = build_variants(args, device, log)
    for name, why in log["skipped"].items():
        print(f"skipped {name}: {why}")
    print(f"{log['machine']['cpu_model']}, {args.threads} torch thread(s), device {device}; {log['images']} images "
          f"from {args.data}; resnet18 {args.image_size} px, batch {args.batch_size}; {args.rounds} round(s) x "
          f"{args.steps} timed steps after {args.warmup} warm-up steps", flush=True)
    started = time.time()
    rates = alternate(variants, args.rounds)
    log["wall_s"] = time.time() - started
    log["rates_per_round"] = rates

    summary = {name: spread(values) for name, values in rates.items()}
    rows = []
    for name, s in summary.items():
        row = {"variant": name, "img_per_s": f"{s['median']:.1f}", "min-max": f"{s['min']:.1f}-{s['max']:.1f}"}
        for peer in ("lightly", "byol-pytorch"):
            row[f"vs {peer}"] = f"{s['median'] / summary[peer]['median']:.2f}x" if peer in summary else ""
        rows.append(row)
    header = ["variant", "img_per_s", "min-max", "vs lightly", "vs byol-pytorch"]
    args.out and args.out.mkdir(parents=True, exist_ok=True)
    print(write_table(rows, header, args.out, "end_to_end"))
    ours = summary.get("byol-transfer")
    if ours and log["cached"]:
        epoch_s = log["images"] / ours["median"]
        print(f"one-time cache decode: {log['cache_decode_s']:.1f} s for {log['images']} images "
              f"({100 * log['cache_decode_s'] / epoch_s:.0f}% of one epoch at {ours['median']:.1f} img/s)")
    for part, (a, b) in {"cache vs reading files": ("byol-transfer", "byol-transfer, no cache"),
                         "in-process batched views vs views in workers": ("byol-transfer",
                                                                          "byol-transfer, views in workers")}.items():
        if a in summary and b in summary:
            print(f"{part}: {summary[a]['median'] / summary[b]['median']:.2f}x")
    if args.out:
        atomic_write_text(args.out / "run.json", json.dumps(log, indent=2) + "\n")


if __name__ == "__main__":
    main()
