"""Command-line flags generated from one flag → config key table per command.

A command declares its schema and a table such as ``[Flag("--batch-size", "data.batch_size", "images per
step"), ...]``. Each flag's type, choices, list-ness, bounds and the default shown in ``--help`` come from
the schema field the key names, so a default is written once (in the schema) and a bound is checked by one
rule (``range_problem``). A flag left out on the command line is None and sets nothing: the ``--config``
file's value, or the schema default, stands. Every command built this way also takes ``--config
FILE.yaml`` (the same keys as a file) and ``--set key=value`` (any key, parsed as YAML).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Literal, Union

from .schema import device_problem, range_problem


@dataclass(frozen=True)
class Flag:
    """One command-line flag that sets one config key."""

    name: str  # "--batch-size", or a positional name ("scenes": zero or more values, a list key)
    key: str  # the dotted key of the command's schema it sets, e.g. "data.batch_size"
    help: str = ""
    metavar: Union[str, None] = None
    required: bool = False  # on the command line or in --config: checked after merging (config/resolve.py)
    # a parser for the text instead of the field's own type, for flag spellings that predate the schema
    # (e.g. `--evaluators knn,linear` for a list); it returns the value stored under ``key``
    parse: Union[Callable[[str], Any], None] = None
    repeat: bool = False  # a list flag given several times accumulates (`--backbone a --backbone b`)
    sets_to: bool = True  # a switch for a bool key sets it to this (`--no-plot` sets `plot` to false)

    @property
    def dest(self) -> str:
        return self.name.lstrip("-").replace("-", "_")


# --------------------------------------------------------------------------------------------------
# typed values: the same rule for a flag and for the config key it sets
# --------------------------------------------------------------------------------------------------


def number(kind: type = int, key: Union[str, None] = None, **bounds: Any) -> Callable[[str], Any]:
    """An argparse ``type``: parse an int/float and check ``bounds`` (ge/gt/le/lt, as in the schemas)."""
    name = "an integer" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {name}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        problem = range_problem(value, bounds)
        if problem:
            raise argparse.ArgumentTypeError(f"{key!r} {problem}" if key else problem)
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def device(text: str) -> str:
    """``--device`` of every command: the same rule as ``train.device``."""
    problem = device_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _checked_text(key: str, bounds: dict[str, Any]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        problem = range_problem(text, bounds)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return text

    parse.__name__ = "str"
    return parse


# --------------------------------------------------------------------------------------------------
# schema field → argparse argument
# --------------------------------------------------------------------------------------------------


def schema_field(schema: type, key: str) -> tuple[Any, dataclasses.Field]:
    """(type hint, dataclass field) of dotted ``key`` in ``schema``; KeyError names the part not found."""
    cls, parts = schema, key.split(".")
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if part not in fields:
            raise KeyError(f"{schema.__name__} has no key {'.'.join(parts[:i + 1])!r}")
        hint = typing.get_type_hints(cls)[part]
        if i == len(parts) - 1:
            return hint, fields[part]
        cls = _without_none(hint)
        if not dataclasses.is_dataclass(cls):
            raise KeyError(f"{schema.__name__}: {'.'.join(parts[:i + 1])!r} is not a section")
    raise KeyError(key)


def _without_none(hint: Any) -> Any:
    if typing.get_origin(hint) in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return hint


def _default_text(f: dataclasses.Field) -> Union[str, None]:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return None
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return str(value)


def argument_options(schema: type, flag: Flag) -> dict[str, Any]:
    """The ``add_argument`` keywords of ``flag``: type/choices/nargs from the schema field, default None."""
    hint, f = schema_field(schema, flag.key)
    bounds = dict(f.metadata.get("bounds", {}))
    hint = _without_none(hint)
    options: dict[str, Any] = {"dest": flag.dest, "default": None, "metavar": flag.metavar}
    shown = _default_text(f)
    options["help"] = flag.help + (f" (default: {shown})" if shown and "default" not in flag.help else "")
    if flag.parse is not None:
        options["type"] = flag.parse
        return options
    if hint is bool:
        options.pop("metavar")
        if not flag.sets_to:  # the key's default is true: the switch turns it off, and --help says so
            options["help"] = flag.help
        return {**options, "action": "store_const", "const": flag.sets_to}
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint) or (str,)
        options["nargs"] = "+"
        if flag.repeat:
            options["action"] = "extend"
        hint = _without_none(item)
        bounds = {k: v for k, v in bounds.items() if k in ("ge", "gt", "le", "lt")}  # per item
    if typing.get_origin(hint) is Literal:
        options["choices"] = list(typing.get_args(hint))
    elif hint in (int, float):
        options["type"] = number(hint, flag.key, **bounds)
    elif hint is str and "check" in bounds:
        options["type"] = _checked_text(flag.key, bounds)
    elif hint is not str:
        raise TypeError(f"flag {flag.name}: key {flag.key!r} of type {hint!r} cannot be a flag")
    return options


def add_flags(parser: argparse.ArgumentParser, schema: type, flags: list[Flag], config_file: bool = True) -> None:
    """Add ``flags`` (typed from ``schema``), ``--set`` and, with ``config_file``, ``--config FILE.yaml``."""
    if config_file:
        parser.add_argument("--config", dest="config_file", metavar="FILE.yaml",
                            help="settings as YAML, the same keys as the config.yaml this command writes; "
                                 "flags and --set override it")
    for flag in flags:
        options = argument_options(schema, flag)
        if not flag.name.startswith("-"):  # positional: argparse names it itself, and it may be left out
            options.pop("dest")
            options["nargs"] = "*"
        parser.add_argument(flag.name, **options)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key, e.g. --set data.batch_size=64 (repeatable; value as YAML)")


def flag_values(args: argparse.Namespace, flags: list[Flag]) -> dict[str, Any]:
    """``{dotted key: value}`` of the flags given on the command line (left-out flags are None)."""
    values = {}
    for flag in flags:
        value = getattr(args, flag.dest, None)
        if value is not None and value != []:  # [] is a positional list left out
            values[flag.key] = value
    return values
