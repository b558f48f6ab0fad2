"""Augmentation ops by name, each declaring which channel counts and value ranges it accepts.

A recipe lists ops as ``{op: NAME, p: PROB, ...params}``; :func:`build_op` checks the params against
the builder's signature and the op's declared contract against the data (channel count, whether values
are scaled to [0, 1]) before anything trains. Ops from a user's own module register the same way
(``@register_op``) and are imported by the recipe's ``plugins`` key (``augment/plugins.py``); ``_contract.py``
checks every op's declaration and built module alike. Stock Kornia ops live in ``stock.py``; ops Kornia lacks, and
faster batched versions of slow stock ops (checked against Kornia's output in tests), are one per file in this
package. ``_selected.py`` holds the shared piece: transform only the samples the probability gate picked.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from ...config import range_problem
from ...errors import UserError
from ...registry import Registry
from ._contract import ChannelRule, built_problem, declaration_problem


@dataclass(frozen=True)
class OpInfo:
    name: str
    build: Callable[..., nn.Module]  # build(image_size=, in_chans=, p=, **params) -> Kornia module
    channels: ChannelRule = "any"  # rgb: exactly 3 channels *declared RGB* by the recipe
    needs_unit_range: bool = False  # e.g. solarize: meaningless unless values lie in [0, 1]
    geometric: bool = False  # moves pixels (matters when masks must follow)
    description: str = ""
    # Maps raw values into [0, 1] (e.g. a CT window): later ops in the same view may then assume unit range.
    outputs_unit_range: bool = False
    module: str = ""  # where the builder is defined: named in errors about a user's op


OPS: Registry[OpInfo] = Registry("augmentation op")


def register_op(
    name: str,
    *,
    channels: ChannelRule = "any",
    needs_unit_range: bool = False,
    geometric: bool = False,
    outputs_unit_range: bool = False,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register an op builder under ``name`` (built-in ops and a user's own modules alike).

    A declaration that breaks the contract, or a name already taken, is a one-line error naming the op
    and the module: for a user's op it surfaces when the recipe's ``plugins`` are imported.
    """

    def add(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        module = getattr(build, "__module__", "?")
        flags = {"needs_unit_range": needs_unit_range, "geometric": geometric,
                 "outputs_unit_range": outputs_unit_range}
        if problem := declaration_problem(build, channels, flags):
            raise UserError(f"augmentation op {name!r} (module {module}): {problem}")
        # The same module registering the name again is that module run again (importlib.reload while
        # writing an op in a notebook, or an import that failed half-way retried): its new builder wins.
        again = name in OPS and OPS.get(name).module == module
        if name in OPS and not again:
            raise UserError(f"augmentation op {name!r} (module {module}): the name is taken by the op in "
                            f"{OPS.get(name).module}; choose another name")
        doc = (build.__doc__ or "").strip().splitlines()
        OPS.register(name, replace=again)(
            OpInfo(name, build, channels, needs_unit_range, geometric, doc[0] if doc else "",
                   outputs_unit_range, module)
        )
        return build

    return add


def build_op(
    spec: dict[str, Any],
    *,
    image_size: int,
    in_chans: int,
    rgb: bool,
    unit_range: bool,
    where: str,
) -> nn.Module:
    """One op from its recipe entry, after checking it fits the data. ``where`` names the recipe."""
    info, params = _known_op(spec, where)
    name = info.name
    if info.channels == "rgb" and not (rgb and in_chans == 3):
        raise UserError(
            f"{where}: op {name!r} needs 3-channel RGB data, but the data have {in_chans} channel(s)"
            f"{'' if rgb else ' and the recipe does not declare rgb: true'}"
        )
    if info.channels == "single" and in_chans != 1:
        raise UserError(f"{where}: op {name!r} needs single-channel data, got {in_chans} channels")
    if info.needs_unit_range and not unit_range:
        raise UserError(
            f"{where}: op {name!r} assumes values in [0, 1], but this recipe's scaling does not put "
            "the data there (set scaling, or drop the op)"
        )
    return _build(info, params, image_size, in_chans, where)


def check_op_spec(spec: Any, where: str, in_chans: int | None) -> None:
    """Check one recipe entry without data: op name, parameter names, number types, ``p`` in [0, 1].

    With a known channel count the op is also built once (its own checks: e.g. a blur σ range, a
    kernel size), so that a bad value is reported when the recipe is loaded, naming file, op and key.
    """
    info, params = _known_op(spec, where)
    try:
        hints = typing.get_type_hints(info.build)
    except Exception:  # a user's builder may annotate with names it never imports: check by value only
        hints = {}
    for key, value in params.items():
        expected = hints.get(key)
        if expected in (int, float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UserError(f"{where}: op {info.name!r}: {key!r} must be a number, got {value!r}")
        if typing.get_origin(expected) is list and not _numbers(value):
            raise UserError(f"{where}: op {info.name!r}: {key!r} must be a number or a list of numbers, "
                            f"got {value!r}")
    if "p" in params and (problem := range_problem(params["p"], PROBABILITY)):
        raise UserError(f"{where}: op {info.name!r}: 'p' (a probability) {problem}")
    if in_chans is not None:
        _build(info, params, TRIAL_IMAGE_SIZE, in_chans, where)


PROBABILITY = {"ge": 0, "le": 1}
TRIAL_IMAGE_SIZE = 64  # load-time check build; the real size only matters for size-derived defaults
_RESERVED = ("image_size", "in_chans")  # supplied by the recipe builder, not by YAML


def _numbers(value: Any) -> bool:
    items = value if isinstance(value, (list, tuple)) else [value]
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items)


def _known_op(spec: Any, where: str) -> tuple[OpInfo, dict[str, Any]]:
    """The op an entry names and its parameters, checked against the builder's signature."""
    if not isinstance(spec, dict) or "op" not in spec:
        raise UserError(f"{where}: an op entry needs an 'op' key, got {spec!r}")
    params = dict(spec)
    name = params.pop("op")
    if not isinstance(name, str) or name not in OPS:
        raise UserError(f"{where}: unknown op {name!r}; known ops: {', '.join(OPS.names())} "
                        "(an op of your own: list its module under plugins:, see docs/recipes.md)")
    info = OPS.get(name)
    accepted = inspect.signature(info.build).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    for key in params:
        if key in _RESERVED or (key not in accepted and not takes_any):
            allowed = [k for k in accepted if k not in _RESERVED]
            raise UserError(f"{where}: op {name!r} has no parameter {key!r} (allowed: {', '.join(allowed)})")
    return info, params


def _build(info: OpInfo, params: dict[str, Any], image_size: int, in_chans: int, where: str) -> nn.Module:
    try:
        op = info.build(image_size=image_size, in_chans=in_chans, **params)
    except (TypeError, ValueError, AssertionError) as e:
        raise UserError(f"{where}: op {info.name!r}: {e}") from None
    if problem := built_problem(op, image_size, in_chans):
        raise UserError(f"{where}: op {info.name!r} (module {info.module}): {problem}")
    return op


def _load_builtin_ops() -> None:
    # Every module of this package registers its op(s) on import; private modules (``_x``) hold no ops.
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_load_builtin_ops()
