"""The package's layering rule and its import graph, read from the source with ``ast`` (nothing is imported).

Rule: a module may import modules of its own top-level package (``byol_transfer.<name>``) and of packages on
a LOWER level of :data:`LEVELS` only. Packages on the same level are independent of each other (data,
models and augment must not import one another). Every import counts for this rule, including lazy ones
inside functions and ``if TYPE_CHECKING:`` blocks: a lazy import is still a dependency, it only hides it.

A second rule: no import cycle between files. Only imports that run when a module is first imported count
there (module level, class bodies, not inside functions and not under ``TYPE_CHECKING``), because those are
the ones that can fail half-initialised.

A new top-level package or module must be placed in :data:`LEVELS` deliberately: one that is not in the
table fails the test.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path


PACKAGE = "byol_transfer"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE

# The layering, lowest first: byol_transfer.<key> may import byol_transfer.<other> only if
# LEVELS[other] < LEVELS[key] (or other == key).
LEVELS: dict[str, int] = {
    "errors": 0, "version": 0,  # the one user-facing exception; the package version; import nothing of ours
    "io": 1, "registry": 1, "machine": 1, "outputs": 1,  # small foundations; may use errors
    "config": 2,  # strict schemas for every command
    "data": 3, "models": 3, "augment": 3,  # independent of each other
    "features": 4,  # extract, cache, knn, linear probe
    "train": 5, "semisup": 5,
    "transfer": 6,  # sweep over tasks, fine-tuning, inits
    "cli": 7, "demo": 7,  # entry points: parse, build a config, call the library
}

# Files outside the layering, and why.
EXEMPT: dict[str, str] = {
    # The public API: it re-exports the names users import (`from byol_transfer import pretrain`), so it
    # imports from every level by design. Nothing inside the package may import it (checked below).
    "__init__.py": "public API",
    # `python -m byol_transfer`: the entry point, above everything; nothing imports it.
    "__main__.py": "entry point",
}


@dataclass(frozen=True)
class Import:
    file: Path  # the importing file
    line: int
    source: str  # the importing module, e.g. byol_transfer.train.monitor
    target: str  # the imported module, absolute, e.g. byol_transfer.features.knn
    eager: bool  # runs when `source` is imported (not inside a function, not under TYPE_CHECKING)
    exists: bool  # the target is one of the package's files


def module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package by absolute name (a package by its ``__init__.py``)."""
    return {module_name(p, root, package): p for p in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, eager: bool):
    """(import node, eager) for every import under ``node``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, eager
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), False)
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), eager)
        else:
            yield from _walk(child, eager)


def imports_of(path: Path, source: str, known: dict[str, Path], package: str) -> list[Import]:
    """Every import of the package's own modules in one file, made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # the package a relative import starts from: the module itself for an __init__.py, else its parent
    base = source.split(".") if path.name == "__init__.py" else source.split(".")[:-1]
    found = []
    for node, eager in _walk(tree, True):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                stem = ".".join(anchor + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # `from a import b` imports the module a.b when there is one, else the name b of module a
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        for name in dict.fromkeys(names):
            if name == package or name.startswith(package + "."):
                target = name if name in known else None  # None: no such module (a stale path after a move)
                found.append(Import(path, node.lineno, source, target or name, eager, target is not None))
    return found


def all_imports(root: Path, package: str) -> list[Import]:
    known = modules_of(root, package)
    return [imp for name, path in known.items() for imp in imports_of(path, name, known, package)]


def _top(module: str) -> str | None:
    """``byol_transfer.train.loop`` → ``train``; the root package itself → None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_violations(root: Path, package: str, levels: dict[str, int], exempt: dict[str, str]) -> list[str]:
    """One line per import that breaks the layering, naming file:line, the import and why."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        top = path.relative_to(root).parts[0].removesuffix(".py")
        if relative not in exempt and top not in levels:
            problems.append(f"{root.name}/{relative}: {package}.{top} is not in the LEVELS table "
                            "(place a new package or module on a level deliberately)")
    for imp in all_imports(root, package):
        relative = imp.file.relative_to(root).as_posix()
        if relative in exempt:
            continue
        where = f"{root.name}/{relative}:{imp.line} imports {imp.target}"
        source, target = _top(imp.source), _top(imp.target)
        if not imp.exists:
            problems.append(f"{where}: there is no such module in the package")
        elif target is None:
            problems.append(f"{where}: nothing inside the package may import the root package "
                            "(the public API, which imports every level)")
        elif target == source or source not in levels:
            continue  # own package; an unplaced source is reported above
        elif target not in levels:
            problems.append(f"{where}: {target} is not in the LEVELS table")
        elif levels[target] >= levels[source]:
            relation = "a package on the same level" if levels[target] == levels[source] else "a higher level"
            problems.append(f"{where}: {source} (level {levels[source]}) may not import {target} "
                            f"(level {levels[target]}, {relation})")
    return problems


def import_cycles(root: Path, package: str) -> list[list[str]]:
    """Cycles of module-level imports between files, each as a path ``[a, b, ..., a]``."""
    graph: dict[str, set[str]] = {name: set() for name in modules_of(root, package)}
    for imp in all_imports(root, package):
        if imp.eager and imp.exists and imp.target != imp.source:
            graph[imp.source].add(imp.target)
    return sorted(_cycle_in(graph, c) for c in _strongly_connected(graph) if len(c) > 1)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on deep import chains)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first within the component)."""
    start = min(component)
    parent: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle in strongly connected component {sorted(component)}")


# --- the real package -----------------------------------------------------------------------------------

def test_every_import_respects_the_layers():
    problems = layer_violations(PACKAGE_DIR, PACKAGE, LEVELS, EXEMPT)
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_no_import_cycle_between_files():
    cycles = import_cycles(PACKAGE_DIR, PACKAGE)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# --- the checker itself can fail ------------------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_the_checker_reports_wrong_direction_same_level_unknown_and_cycles(tmp_path):
    root = tmp_path / "pkg"
    _write(root, {
        "__init__.py": "from .top.run import main\n",  # exempt: the public API
        "low/__init__.py": "",
        "low/a.py": """\
            from . import b
            def lazy():
                from ..top import run  # a lazy import still breaks the layering
            """,
        "low/b.py": "from .a import lazy\n",  # a <-> b: a cycle inside one package
        "side/__init__.py": "import pkg.low.a\n",  # same level as low
        "low/c.py": "from ..side import thing\nfrom .. import top\nfrom .gone import x\n",
        "top/__init__.py": "",
        "top/run.py": """\
            from typing import TYPE_CHECKING
            from ..low.a import lazy
            from .. import low
            import pkg
            if TYPE_CHECKING:
                from . import helper
            def main(): pass
            """,
        "top/helper.py": "from .run import main\n",  # a cycle only through TYPE_CHECKING: not a cycle
        "stray.py": "",
    })
    levels = {"low": 0, "side": 0, "top": 1}
    problems = layer_violations(root, "pkg", levels, {"__init__.py": "public API"})
    assert problems == [
        "pkg/stray.py: pkg.stray is not in the LEVELS table (place a new package or module on a level deliberately)",
        "pkg/low/a.py:3 imports pkg.top.run: low (level 0) may not import top (level 1, a higher level)",
        "pkg/low/c.py:1 imports pkg.side: low (level 0) may not import side (level 0, a package on the same level)",
        "pkg/low/c.py:2 imports pkg.top: low (level 0) may not import top (level 1, a higher level)",
        "pkg/low/c.py:3 imports pkg.low.gone: there is no such module in the package",
        "pkg/side/__init__.py:1 imports pkg.low.a: side (level 0) may not import low "
        "(level 0, a package on the same level)",
        "pkg/top/run.py:4 imports pkg: nothing inside the package may import the root package "
        "(the public API, which imports every level)",
    ]
    # the root package counts for cycles like any module: pkg imports top.run, which imports pkg
    assert import_cycles(root, "pkg") == [["pkg", "pkg.top.run", "pkg"], ["pkg.low.a", "pkg.low.b", "pkg.low.a"]]


def test_the_cycle_report_names_every_file_of_a_longer_cycle(tmp_path):
    root = tmp_path / "pkg"
    _write(root, {
        "__init__.py": "",
        "x.py": "from .y import f\n",
        "y.py": "from pkg.z import g\ndef f(): pass\n",
        "z.py": "from . import x\ndef g(): pass\n",
        "w.py": "def h():\n    from . import x\n",  # lazy: not part of any cycle
    })
    assert import_cycles(root, "pkg") == [["pkg.x", "pkg.y", "pkg.z", "pkg.x"]]
