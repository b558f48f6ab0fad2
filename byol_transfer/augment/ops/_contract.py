"""What every op must declare and do, checked the same way for built-in ops and ops from a user's module.

A recipe can name ops registered by the user's own module (recipe key ``plugins``). Such an op is trusted
exactly as far as a built-in one: its declaration is checked when it registers, and each op it builds is
checked before any data are augmented. A broken op then fails at recipe load with one line naming the op
and its module, instead of silently giving wrong views (the worst case: a gated op whose per-sample
parameters are not declared hands the selected samples other samples' parameters).

Each function returns a problem (a sentence) or None; the caller adds op name, module and recipe.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Callable, Literal

import torch
from kornia.augmentation import AugmentationBase2D

from ._selected import SelectedSamples

ChannelRule = Literal["any", "rgb", "single"]
CHANNEL_RULES: tuple[str, ...] = typing.get_args(ChannelRule)
# The recipe builder passes these by keyword; ``p`` gates the op per sample (Kornia's probability).
REQUIRED_PARAMETERS = ("image_size", "in_chans", "p")
TRIAL_BATCH = 7  # rows in the parameter trial: a size no other parameter dimension is likely to have


def declaration_problem(build: Callable[..., Any], channels: Any, flags: dict[str, Any]) -> str | None:
    """The ``register_op`` arguments and the builder's signature."""
    if channels not in CHANNEL_RULES:
        return f"channels must be one of {', '.join(map(repr, CHANNEL_RULES))}, got {channels!r}"
    for flag, value in flags.items():
        if not isinstance(value, bool):
            return f"{flag} must be true or false, got {value!r}"
    if not callable(build):
        return f"register_op must decorate a builder function, got {type(build).__name__}"
    parameters = inspect.signature(build).parameters
    for name in REQUIRED_PARAMETERS:
        parameter = parameters.get(name)
        if parameter is None or parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            return (f"the builder {build.__name__}() must take {', '.join(REQUIRED_PARAMETERS)} as keyword "
                    f"arguments (missing {name!r})")
    default = parameters["p"].default
    if default is inspect.Parameter.empty:
        return "the builder's 'p' needs a default probability"
    if isinstance(default, bool) or not isinstance(default, (int, float)) or not 0 <= default <= 1:
        return f"the builder's default 'p' must be a probability in [0, 1], got {default!r}"
    return None


def built_problem(op: Any, image_size: int, in_chans: int) -> str | None:
    """One built op: a Kornia 2-D augmentation whose declared per-sample parameters are the real ones."""
    if not isinstance(op, AugmentationBase2D):
        return (f"the builder returned {type(op).__name__}, not a Kornia 2-D augmentation "
                "(a subclass of kornia.augmentation.AugmentationBase2D)")
    if not 0 <= float(op.p) <= 1:
        return f"p must be a probability in [0, 1], got {op.p!r}"
    if isinstance(op, SelectedSamples):
        return _per_sample_problem(op, image_size, in_chans)
    return None


def _per_sample_problem(op: Any, image_size: int, in_chans: int) -> str | None:
    """``per_sample_params`` must name exactly the parameters drawn with one row per sample.

    :class:`SelectedSamples` subsets those rows for the selected samples and passes every other entry
    whole, so an undeclared per-sample parameter would be read by the wrong rows.
    """
    declared = op.per_sample_params
    if not isinstance(declared, tuple) or not all(isinstance(k, str) for k in declared):
        return f"per_sample_params must be a tuple of parameter names, got {declared!r}"
    with torch.random.fork_rng(devices=[]):  # the trial must not move the random stream of the views
        params = op.generate_parameters(torch.Size((TRIAL_BATCH, in_chans, image_size, image_size)))
    rows = {k for k, v in params.items()
            if isinstance(v, torch.Tensor) and v.ndim > 0 and v.shape[0] == TRIAL_BATCH}
    if undeclared := sorted(rows - set(declared)):
        return (f"generate_parameters draws {', '.join(undeclared)} per sample, but per_sample_params "
                f"{declared!r} does not list it (the selected samples would read other samples' values)")
    if missing := sorted(set(declared) - rows):
        return (f"per_sample_params lists {', '.join(missing)}, which generate_parameters does not return "
                "with one row per sample")
    return None
