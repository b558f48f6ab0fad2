"""byol-transfer export: the online backbone of a run → FILE.safetensors (timm key names) + FILE.safetensors.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..train.export import export_backbone


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the pretrained backbone for timm / smp", description=__doc__)
    p.add_argument("run", type=Path, help="run folder or .ckpt file")
    p.add_argument("--out", required=True, type=Path, help="FILE.safetensors")


def run(args: argparse.Namespace) -> int:
    out, meta = export_backbone(args.run, args.out)
    print(f"exported {meta['architecture']} ({meta['in_chans']} channels, {meta['training_steps']} steps) "
          f"to {out}")
    print(f"load it with: timm.create_model({meta['architecture']!r}, num_classes=0, "
          f"in_chans={meta['in_chans']}).load_state_dict(safetensors.torch.load_file({str(out)!r}))")
    return 0
