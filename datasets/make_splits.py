"""Write the committed split lists of the segmentation cards from the real data.

    python datasets/make_splits.py ../shared/data            # writes datasets/{water_seg,kvasir_seg}/splits/
    python datasets/make_splits.py ../shared/data --check    # compares instead of writing (exit 1 on a difference)

The split is the one benchmarks/segmentation_real_data.sh always drew: the image files that have a mask
(same stem), sorted naturally by name, 80/20 with numpy.random.default_rng(0) (water_seg 245 / 61,
Kvasir-SEG 800 / 200). See byol_transfer/data/split_lists.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from byol_transfer.data.split_lists import seeded_split  # noqa: E402

CARDS = ("water_seg", "kvasir_seg")


def paired_names(data: Path) -> list[str]:
    """Image file names (relative to images/) whose stem has a mask in masks/."""
    masks = {p.stem for p in (data / "masks").iterdir()}
    return [p.name for p in (data / "images").iterdir() if p.stem in masks]


def split_texts(data: Path) -> dict[str, str]:
    return {split: "".join(f"{n}\n" for n in names) for split, names in seeded_split(paired_names(data)).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the folder holding water_seg/ and kvasir_seg/")
    parser.add_argument("--check", action="store_true", help="compare with the committed lists, write nothing")
    args = parser.parse_args(argv)
    differ = False
    for name in CARDS:
        for split, text in split_texts(args.data / name).items():
            target = HERE / name / "splits" / f"{split}.txt"
            if args.check:
                same = target.is_file() and target.read_text() == text
                differ |= not same
                print(f"{target.relative_to(HERE)}: {'same' if same else 'DIFFERS'}")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
                print(f"{target.relative_to(HERE)}: {text.count(chr(10))} names")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
