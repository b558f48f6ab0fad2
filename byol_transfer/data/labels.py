"""Where class labels and splits come from: class-per-subfolder, a CSV file, or ``train/``+``test/``.

A label CSV has one row per image, ``path,label`` (a header row is optional, tabs work as well as
commas, an optional third column names the split). Paths are relative to the data folder. A label is a
class name, or a class index when the classes are declared (by a data card, ``classes=``, or a
``classes.txt`` beside the CSV, one name per line in index order).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import UserError

SPLIT_NAMES = ("train", "val", "test")


def split_folders(root: Path) -> dict[str, Path]:
    """``{"train": root/train, "test": root/test, ...}`` when ``root`` holds a train/ and a test/ folder."""
    found = {name: root / name for name in SPLIT_NAMES if (root / name).is_dir()}
    return found if {"train", "test"} <= set(found) else {}


def class_of(path: Path, root: Path) -> str:
    """The first folder level under ``root`` names the class."""
    parts = path.relative_to(root).parts
    if len(parts) < 2:
        raise UserError(f"{path}: labelled image folders need one subfolder per class")
    return parts[0]


def index_labels(names: Sequence[str], classes: Sequence[str] | None, where: str) -> tuple[list[int], list[str]]:
    """Class names → indices; ``classes`` fixes the order (an unknown name is an error), else sorted.

    Undeclared labels that are all integers keep their value as the index (0..max), so "2" stays class 2.
    """
    if classes is None:
        if names and all(n.isdigit() for n in names):
            classes = [str(i) for i in range(max(int(n) for n in names) + 1)]
            names = [str(int(n)) for n in names]
        else:
            classes = sorted(set(names))
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(names) - set(index))
    if unknown:
        raise UserError(f"{where}: unknown class {unknown[0]!r} (declared: {', '.join(classes)})")
    return [index[n] for n in names], list(classes)


@dataclass
class LabelTable:
    files: list[Path]
    labels: list[int]
    classes: list[str]


def read_label_csv(
    csv_path: str | Path,
    root: str | Path,
    classes: Sequence[str] | None = None,
    split: str | None = None,
) -> LabelTable:
    """Read ``path,label[,split]`` rows; every path must exist and every label must be a known class."""
    csv_path, root = Path(csv_path), Path(root)
    if not csv_path.is_file():
        raise UserError(f"label file not found: {csv_path}")
    if classes is None and (csv_path.parent / "classes.txt").is_file():
        classes = [c.strip() for c in (csv_path.parent / "classes.txt").read_text().splitlines() if c.strip()]
    text = csv_path.read_text()
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    files: list[Path] = []
    names: list[str] = []
    for line_no, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
        if not row or not "".join(row).strip():
            continue
        if line_no == 1 and row[0].strip().lower() in ("path", "file", "filename", "image"):
            continue  # header
        if len(row) < 2:
            raise UserError(f"{csv_path} line {line_no}: expected 'path,label', got {delimiter.join(row)!r}")
        if split is not None and len(row) >= 3 and row[2].strip() != split:
            continue
        rel, label = row[0].strip(), row[1].strip()
        path = root / rel
        if not path.is_file():
            raise UserError(f"{csv_path} line {line_no}: image not found: {path}")
        files.append(path)
        names.append(_label_name(label, classes, csv_path, line_no))
    if not files:
        what = f" for split {split!r}" if split else ""
        raise UserError(f"{csv_path}: no rows{what}")
    labels, classes = index_labels(names, classes, str(csv_path))
    return LabelTable(files, labels, classes)


def _label_name(label: str, classes: Sequence[str] | None, csv_path: Path, line_no: int) -> str:
    if classes is None:
        return label
    if label in classes:
        return label
    if label.lstrip("-").isdigit():
        i = int(label)
        if 0 <= i < len(classes):
            return classes[i]
    raise UserError(
        f"{csv_path} line {line_no}: unknown label {label!r} (declared classes: {', '.join(classes)})"
    )
