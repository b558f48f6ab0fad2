"""BYOL training steps per second: byol-transfer vs lightly vs byol-pytorch, alternated in one run.

    pip install -e '.[bench]'            # lightly and byol-pytorch: benchmark-only, never runtime dependencies
    python benchmarks/vs_peers.py [--image-size 64] [--batch-size 64] [--rounds 5] [--steps 3]
        [--formats nchw channels_last documented] [--precision fp32|bf16] [--out DIR]

The same configuration for every library: timm resnet18 (num_classes=0, 512-d features), 4096→256
projector and predictor (Linear → BN → ReLU → Linear), SGD (lr 0.03, momentum 0.9, weight decay 1e-6 as in
lightly's benchmarks), EMA target with τ from 0.99 on a cosine, symmetric loss, one optimiser step per
batch. Each library is driven the way its own documentation shows:

- byol-transfer: ``BYOL`` (both views as one concatenated batch through each network, fused ``_foreach``
  EMA), its Kornia two-view augmentation on the batch;
- lightly 1.6: ``BYOLProjectionHead``/``BYOLPredictionHead``, ``update_momentum``, ``cosine_schedule``,
  ``NegativeCosineSimilarity``, four forward passes per step as in its BYOL example; ``BYOLTransform``
  per image (PIL), as its DataLoader would run it;
- byol-pytorch 0.9: ``BYOL(net, image_size, hidden_layer=-2, use_simplicial_embeddings=False)`` (forward hook
  on the pooling layer), its default Kornia augmentation inside ``forward``, ``update_moving_average``.

Fairness: every library gets the same memory format and the same precision. ``--formats`` runs each
setting for all libraries: ``nchw`` (contiguous), ``channels_last`` (model weights and every batch fed to
the encoder), and ``documented`` (each library as its documentation runs it: byol-transfer with
channels_last, the peers contiguous) as a separate row. ``--precision bf16`` autocasts every library's
step alike. Each step records the tensors it fed to its encoder, so ``tests/benchmarks`` can assert the
format every library really got.

Two modes, alternated round by round so machine noise hits every library alike (median and min–max
reported, and each library's ratio of medians to the fastest peer in the same setting):
``model`` (pre-made views: the networks' cost alone; byol-pytorch gets an identity augmentation) and
``full`` (each library's own augmentation of a raw batch included). The 13-band case shows what each
library can run at all. The *overhead ratio* is byol-transfer's step time over the time of the same
forward/backward passes of the bare encoder and MLPs plus the optimiser step (no loss, no EMA, no views),
per round (median and min–max over rounds), in the same memory format.

Results: a table on stdout, and ``--out`` DIR/vs_peers.{csv,md}.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import platform
import statistics
import traceback
from pathlib import Path
from typing import Callable

import numpy as np
import timm
import torch
from alternating import alternate_rounds
from torch import nn


from byol_transfer.augment.recipes import build_two_views, load_recipe
from byol_transfer.config import OptimConfig
from byol_transfer.models.byol import BYOL
from byol_transfer.models.ema import ema_tau
from byol_transfer.train.optim import build_optimizer

LR, MOMENTUM, WEIGHT_DECAY, TAU = 0.03, 0.9, 1e-6, 0.99
TOTAL = 10_000  # nominal schedule length for τ


FORMATS = {"nchw": torch.contiguous_format, "channels_last": torch.channels_last}
# "documented": how each library's own docs run it (only byol-transfer converts to channels_last).
DOCUMENTED = {"byol-transfer": torch.channels_last, "lightly": torch.contiguous_format,
              "byol-pytorch": torch.contiguous_format, "bare": torch.channels_last}


def resnet18(in_chans: int) -> nn.Module:
    return timm.create_model("resnet18", pretrained=False, num_classes=0, in_chans=in_chans)


class Step:
    """One training step of one library; ``fed`` keeps the last batches it fed to its encoder."""

    def __init__(self, run: Callable[[], None], fmt: torch.memory_format, precision: str,
                 models: list[nn.Module]) -> None:
        self.run, self.fmt, self.precision, self.models = run, fmt, precision, models
        self.fed: list[torch.Tensor] = []

    def feed(self, x: torch.Tensor) -> torch.Tensor:
        """The batch in this setting's memory format, as the encoder receives it."""
        x = x.contiguous(memory_format=self.fmt)
        self.fed = [*self.fed[-3:], x]
        return x

    def __call__(self) -> None:
        with torch.autocast("cuda" if torch.cuda.is_available() else "cpu", dtype=torch.bfloat16,
                            enabled=self.precision == "bf16"):
            self.run()


class InFormat(nn.Module):
    """Appended to a peer's own augmentation: its output enters the encoder in the setting's format."""

    def __init__(self, step: "Step") -> None:
        super().__init__()
        self.step = step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step.feed(x)


def sgd(params) -> torch.optim.Optimizer:  # noqa: ANN001
    return torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)


# --- byol-transfer ---------------------------------------------------------------------------------

def ours(in_chans: int, size: int, batch: int, full: bool, fmt: torch.memory_format, precision: str) -> Step:
    torch.manual_seed(0)
    model = BYOL(resnet18(in_chans), 512).to(memory_format=fmt)
    optimizer = build_optimizer(model, OptimConfig(name="sgd", base_lr=LR * 256 / batch, weight_decay=WEIGHT_DECAY,
                                                   warmup_fraction=0.0), batch)
    recipe = load_recipe("natural_rgb" if in_chans == 3 else "satellite_multispectral")
    dtype = torch.uint8 if in_chans == 3 else torch.float32
    views = build_two_views(recipe, size, in_chans, dtype)
    raw = torch.randint(0, 256, (batch, in_chans, size, size), dtype=torch.uint8)
    if in_chans != 3:
        raw = torch.rand(batch, in_chans, size, size)
    fixed = views(raw)
    k = iter(range(10**9))

    def run() -> None:
        v1, v2 = views(raw) if full else fixed
        loss = model(step.feed(v1), step.feed(v2)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.update_target(ema_tau(next(k), TOTAL, TAU))

    step = Step(run, fmt, precision, [model.online_encoder, model.target_encoder])
    return step


def bare(in_chans: int, size: int, batch: int, full: bool, fmt: torch.memory_format, precision: str) -> Step:
    """The same passes as ``ours`` without BYOL: the floor the overhead ratio is measured against."""
    torch.manual_seed(0)
    model = BYOL(resnet18(in_chans), 512).to(memory_format=fmt)
    optimizer = torch.optim.SGD(model.online_parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    views = torch.randn(2 * batch, in_chans, size, size)

    def run() -> None:
        x = step.feed(views)
        out = model.predictor(model.online_projector(model.online_encoder(x)))
        with torch.no_grad():
            model.target_projector(model.target_encoder(x))
        optimizer.zero_grad(set_to_none=True)
        out.sum().backward()
        optimizer.step()

    step = Step(run, fmt, precision, [model.online_encoder, model.target_encoder])
    return step


# --- lightly ---------------------------------------------------------------------------------------

def lightly_step(in_chans: int, size: int, batch: int, full: bool, fmt: torch.memory_format,
                 precision: str) -> Step:
    from lightly.loss import NegativeCosineSimilarity
    from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum
    from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform
    from lightly.utils.scheduler import cosine_schedule

    torch.manual_seed(0)
    backbone = resnet18(in_chans).to(memory_format=fmt)
    projection_head, prediction_head = BYOLProjectionHead(512, 4096, 256), BYOLPredictionHead(256, 4096, 256)
    backbone_momentum, projection_head_momentum = copy.deepcopy(backbone), copy.deepcopy(projection_head)
    deactivate_requires_grad(backbone_momentum)
    deactivate_requires_grad(projection_head_momentum)
    criterion = NegativeCosineSimilarity()
    optimizer = sgd([*backbone.parameters(), *projection_head.parameters(), *prediction_head.parameters()])
    x0 = torch.randn(batch, in_chans, size, size)
    x1 = torch.randn(batch, in_chans, size, size)
    if full:
        from PIL import Image

        transform = BYOLTransform(BYOLView1Transform(input_size=size), BYOLView2Transform(input_size=size))
        rng = np.random.default_rng(0)
        if in_chans == 3:
            images = [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(batch)]
        else:  # no PIL mode holds 13 bands: offer lightly the tensor, and let its transform say what it does
            images = [torch.rand(in_chans, size, size) for _ in range(batch)]
            transform(images[0])
    k = iter(range(10**9))

    def forward(x: torch.Tensor) -> torch.Tensor:
        return prediction_head(projection_head(backbone(x)))

    @torch.no_grad()
    def forward_momentum(x: torch.Tensor) -> torch.Tensor:
        return projection_head_momentum(backbone_momentum(x)).detach()

    def run() -> None:
        v0, v1 = x0, x1
        if full:
            pairs = [transform(im) for im in images]
            v0 = torch.stack([p[0] for p in pairs])
            v1 = torch.stack([p[1] for p in pairs])
        v0, v1 = step.feed(v0), step.feed(v1)
        momentum = cosine_schedule(next(k), TOTAL, TAU, 1)
        update_momentum(backbone, backbone_momentum, m=momentum)
        update_momentum(projection_head, projection_head_momentum, m=momentum)
        p0, z0 = forward(v0), forward_momentum(v0)
        p1, z1 = forward(v1), forward_momentum(v1)
        loss = 0.5 * (criterion(p0, z1) + criterion(p1, z0))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step = Step(run, fmt, precision, [backbone, backbone_momentum])
    return step


# --- byol-pytorch ----------------------------------------------------------------------------------

def byol_pytorch_step(in_chans: int, size: int, batch: int, full: bool, fmt: torch.memory_format,
                      precision: str) -> Step:
    from byol_pytorch import BYOL as LucidBYOL

    torch.manual_seed(0)
    kwargs = {} if full else {"augment_fn": nn.Identity()}
    net = resnet18(in_chans).to(memory_format=fmt)
    learner = LucidBYOL(net, image_size=size, hidden_layer=-2, projection_size=256,
                        projection_hidden_size=4096, moving_average_decay=TAU, use_simplicial_embeddings=False,
                        **kwargs)
    optimizer = sgd(learner.parameters())
    images = torch.rand(batch, in_chans, size, size)

    def run() -> None:
        loss = learner(images)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        learner.update_moving_average()

    step = Step(run, fmt, precision, [net])
    # Its views are made inside forward: each leaves its augmentation in the setting's format (byol-pytorch
    # concatenates them before the encoder, which keeps that format).
    learner.augment1 = nn.Sequential(learner.augment1, InFormat(step))
    learner.augment2 = nn.Sequential(learner.augment2, InFormat(step))
    return step


LIBRARIES = {"byol-transfer": ours, "lightly": lightly_step, "byol-pytorch": byol_pytorch_step}


def build_steps(factories: dict[str, Callable], in_chans: int, size: int, batch: int, full: bool, setting: str,
                precision: str, verbose: bool = False) -> tuple[dict[str, Step], dict[str, str]]:
    """Each library's warmed-up step in ``setting`` (a format name or "documented"), or why it cannot run."""
    steps, failed = {}, {}
    for name, factory in factories.items():
        fmt = DOCUMENTED[name] if setting == "documented" else FORMATS[setting]
        try:
            steps[name] = factory(in_chans, size, batch, full, fmt, precision)
            steps[name]()  # warm-up: lazy init, allocator
        except Exception as e:  # noqa: BLE001 (a peer that cannot run this case is a result, not a crash)
            failed[name] = f"cannot run: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
            if verbose:
                traceback.print_exc()
    return steps, failed


def measure(factories: dict[str, Callable], in_chans: int, args: argparse.Namespace, full: bool,
            setting: str) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Per-round img/s per library (or the reason it could not run), libraries alternating round by round."""
    steps, failed = build_steps(factories, in_chans, args.image_size, args.batch_size, full, setting,
                                args.precision, args.verbose)
    return alternate_rounds(steps, args.rounds, args.steps, args.batch_size), failed


def _spread(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}"


HEADER = ["format", "precision", "channels", "mode", "library", "img_per_s", "min_max", "vs_fastest_peer", "note"]


def render_table(rows: list[dict]) -> str:
    """The Markdown table docs/benchmarks.md includes, from the rows (of vs_peers.csv)."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(str(r[h]) for h in HEADER) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def read_rows(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def check(folder: Path) -> list[str]:
    """Problems: vs_peers.md is not what vs_peers.csv renders to (so the docs cannot misquote it)."""
    table, data = folder / "vs_peers.md", folder / "vs_peers.csv"
    if not data.is_file() or not table.is_file():
        return [f"{folder}: vs_peers.csv and vs_peers.md are both needed"]
    if table.read_text() != render_table(read_rows(data)):
        return [f"{table} differs from what {data} renders to; re-render with --render {folder}"]
    return []


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", type=Path, metavar="DIR", help="only compare DIR/vs_peers.md with its CSV")
    parser.add_argument("--render", type=Path, metavar="DIR", help="only re-render DIR/vs_peers.md from its CSV")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per library per round")
    parser.add_argument("--modes", nargs="+", default=["model", "full"], choices=["model", "full"])
    parser.add_argument("--channels", nargs="+", type=int, default=[3, 13])
    parser.add_argument("--formats", nargs="+", default=["nchw", "channels_last", "documented"],
                        choices=[*FORMATS, "documented"])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="the same for every library")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.check:
        problems = check(args.check)
        print("\n".join(problems) or f"{args.check}/vs_peers.md matches its CSV")
        raise SystemExit(1 if problems else 0)
    if args.render:
        _write_atomic(args.render / "vs_peers.md", render_table(read_rows(args.render / "vs_peers.csv")))
        return

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or platform.machine()
    print(f"machine: {device}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"resnet18, {args.image_size} px, batch {args.batch_size}, 4096→256 MLPs, SGD, {args.precision}; "
          f"{args.rounds} rounds × {args.steps} steps, alternating; median (min–max) img/s")
    rows = []
    for setting in args.formats:
        for in_chans in args.channels:
            for mode in args.modes:
                rates, failed = measure(LIBRARIES, in_chans, args, mode == "full", setting)
                medians = {n: statistics.median(r) for n, r in rates.items()}
                peers = [v for n, v in medians.items() if n != "byol-transfer"]
                fastest_peer = max(peers) if peers else None
                for name in LIBRARIES:
                    if name in failed:
                        rows.append({"format": setting, "precision": args.precision, "channels": in_chans,
                                     "mode": mode, "library": name, "img_per_s": "", "min_max": "",
                                     "vs_fastest_peer": "", "note": failed[name]})
                        continue
                    ratio = medians[name] / fastest_peer if fastest_peer else None
                    rows.append({"format": setting, "precision": args.precision, "channels": in_chans, "mode": mode,
                                 "library": name, "img_per_s": f"{medians[name]:.1f}", "min_max": _spread(rates[name]),
                                 "vs_fastest_peer": f"{ratio:.2f}" if ratio else "", "note": ""})
        if setting != "documented":
            rates, _ = measure({"byol-transfer": ours, "bare": bare}, 3, args, False, setting)
            per_round = [b / o for b, o in zip(rates["bare"], rates["byol-transfer"])]
            rows.append({"format": setting, "precision": args.precision, "channels": 3, "mode": "overhead",
                         "library": "byol-transfer vs bare passes",
                         "img_per_s": f"{statistics.median(rates['byol-transfer']):.1f} vs "
                                      f"{statistics.median(rates['bare']):.1f}",
                         "min_max": "", "vs_fastest_peer": "",
                         "note": f"overhead ratio (step time ÷ bare time) {statistics.median(per_round):.3f} "
                                 f"({min(per_round):.3f}–{max(per_round):.3f})"})

    table = render_table(rows)
    print(table, end="")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _write_atomic(args.out / "vs_peers.csv", buffer.getvalue())
        # rendered from the CSV as written, exactly as --check does
        _write_atomic(args.out / "vs_peers.md", render_table(read_rows(args.out / "vs_peers.csv")))


if __name__ == "__main__":
    main()
