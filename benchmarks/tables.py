"""One table, three forms: Markdown on stdout, and NAME.csv + NAME.md in the output folder (atomic writes)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

from byol_transfer.io import atomic_write_text


def markdown(rows: Sequence[dict], header: Sequence[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r.get(h, "")) for h in header) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_table(rows: Sequence[dict], header: Sequence[str], out_dir: Path | None, name: str) -> str:
    """The Markdown text; with ``out_dir``, also ``out_dir/name.csv`` and ``out_dir/name.md``."""
    text = markdown(rows, header)
    if out_dir is not None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(out_dir / f"{name}.csv", buffer.getvalue())
        atomic_write_text(out_dir / f"{name}.md", text)
    return text
