"""data/formats/: the format modules never import the dispatcher (or each other in a circle).

The DICOM reader used to import the dispatcher that imports it (the flat modules dicom ↔ readers). This
reads every import of every file under data/formats/ with ``ast`` (lazy imports inside functions included)
and fails naming the cycle or the offending import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import byol_transfer.data.formats as formats

FORMATS = Path(formats.__file__).parent
PACKAGE = "byol_transfer.data.formats"


def _imports(path: Path) -> dict[str, int]:
    """Modules of byol_transfer.data.formats that ``path`` imports → the line of the first such import."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = PACKAGE.split(".")[: len(PACKAGE.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            if target.startswith(PACKAGE + ".") and (FORMATS / f"{target.rsplit('.', 1)[1]}.py").is_file():
                found.setdefault(target.rsplit(".", 1)[1], node.lineno)
    return found


def _graph() -> dict[str, dict[str, int]]:
    return {p.stem: _imports(p) for p in sorted(FORMATS.glob("*.py")) if p.stem != "__init__"}


def test_format_modules_do_not_import_the_dispatcher():
    for module, imports in _graph().items():
        if module != "dispatch":
            assert "dispatch" not in imports, f"formats/{module}.py line {imports.get('dispatch')} imports dispatch"


def test_no_import_cycle_between_format_files():
    graph = _graph()
    assert {"dispatch", "pil", "geotiff", "dicom", "npz", "types"} <= set(graph)

    def visit(module: str, path: list[str]) -> None:
        for target in graph.get(module, {}):
            assert target not in path, "import cycle: " + " → ".join(path[path.index(target):] + [target])
            visit(target, path + [target])

    for module in graph:
        visit(module, [module])


def test_the_cycle_check_sees_a_lazy_import(tmp_path):
    """The checker itself: an import inside a function counts (that is how the old cycle was written)."""
    fake = tmp_path / "dicom.py"
    fake.write_text("def probe():\n    from .dispatch import ImageInfo\n")
    assert _imports(fake) == {"dispatch": 2}
