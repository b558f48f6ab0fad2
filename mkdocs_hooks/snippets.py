"""mkdocs hook: a line ``--8<-- "results/NAME/report.md"`` is replaced by that file (path under docs/).

Why: docs pages must show the tables generated from committed results (benchmarks/render_results.py),
not numbers typed by hand. The syntax is pymdownx.snippets' single-line form, so switching to that
extension later (``markdown_extensions: [pymdownx.snippets: {base_path: [docs], check_paths: true}]``)
needs no page edits; this hook exists because pymdown-extensions is not a dependency. Unlike it, an
included file's headings nest under the heading the include line sits in (a report's ``# title``
under ``### EuroSAT MS`` becomes ``#### title``), so a page keeps one H1. A missing file fails the build.
"""

from __future__ import annotations

import re
from pathlib import Path

INCLUDE = re.compile(r'^[ \t]*--8<--[ \t]+"(?P<path>[^"]+)"[ \t]*$')
HEADING = re.compile(r"^(#{1,6})[ \t]")
FENCE = re.compile(r"^[ \t]*(```|~~~)")


class MissingInclude(Exception):
    pass


def includes(markdown: str) -> list[str]:
    """The paths a page includes, in order (fenced code excluded: examples of the syntax stay as text)."""
    return [m["path"] for line, fenced in _lines(markdown) if not fenced and (m := INCLUDE.match(line))]


def _lines(markdown: str):
    fenced = False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            yield line, True
        else:
            yield line, fenced


def _nested(text: str, depth: int) -> str:
    out = []
    for line, fenced in _lines(text):
        heading = None if fenced else HEADING.match(line)
        out.append("#" * min(6, len(heading[1]) + depth) + line[len(heading[1]):] if heading else line)
    return "\n".join(out)


def include(markdown: str, docs_dir: Path, page: str = "a page") -> str:
    """``markdown`` with every include line replaced by the file it names, headings nested."""
    out, depth = [], 0
    for line, fenced in _lines(markdown):
        match = None if fenced else INCLUDE.match(line)
        if match is None:
            heading = None if fenced else HEADING.match(line)
            depth = len(heading[1]) if heading else depth
            out.append(line)
            continue
        target = (docs_dir / match["path"]).resolve()
        if not target.is_file():
            raise MissingInclude(f"{page} includes {match['path']!r}, which is not a file under {docs_dir}")
        out.append(_nested(target.read_text().rstrip("\n"), depth))
    return "\n".join(out) + ("\n" if markdown.endswith("\n") else "")


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs' hook signature
    try:
        return include(markdown, Path(config["docs_dir"]), page.file.src_path)
    except MissingInclude as e:
        from mkdocs.exceptions import PluginError

        raise PluginError(str(e)) from None
