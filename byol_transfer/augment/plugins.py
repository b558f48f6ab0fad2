"""Import the modules a recipe lists under ``plugins``, so that the user's own ops register before use.

A user adds an op without editing this package: a module of their own decorates a builder with
``@register_op("name", ...)`` (``byol_transfer.augment.ops``), and a recipe that uses it lists that module::

    plugins: [my_project.ops]
    view1:
      - {op: my_op, p: 0.5}

Importing runs the decorators; the op is then checked like a built-in one (``ops/_contract.py``). Python
caches imported modules, so naming the same plugin from many recipes, or loading a recipe twice, imports
it once. The module must be importable (installed, or on ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib

from ..errors import UserError


def load_plugins(modules: list[str], where: str) -> None:
    """Import each module; any failure is one line naming the recipe and the module."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and (name == e.name or name.startswith(e.name + ".")):
                raise UserError(f"{where}: plugins: cannot import module {name!r}: it is not installed or "
                                "not on the Python path (PYTHONPATH)") from None
            raise UserError(f"{where}: plugins: importing module {name!r} failed: {e}") from None
        except UserError as e:  # e.g. an op in it breaks the op contract: the message names op and module
            raise UserError(f"{where}: plugins: {e}") from None
        except Exception as e:  # the user's module itself is broken: say which, and what it raised
            message = " ".join(str(e).split())  # one line, whatever the module raised
            raise UserError(f"{where}: plugins: importing module {name!r} failed: "
                            f"{type(e).__name__}: {message}") from None
