"""The batched ops override private Kornia API: the installed Kornia must be in the tested range.

An untested Kornia must fail here, loudly, rather than give silently different augmentations.
"""

import importlib.util
import inspect
import tomllib
from pathlib import Path

import kornia
from kornia.augmentation.base import _AugmentationBase, _BasicAugmentationBase
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import pytest

from byol_transfer.augment.ops import _selected
from byol_transfer.augment.ops._selected import KORNIA_TESTED

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _pinned_kornia() -> SpecifierSet:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == "kornia"]
    return req.specifier


def test_pyproject_pins_exactly_the_tested_kornia_range():
    assert _pinned_kornia() == KORNIA_TESTED
    assert "0.9.0" in KORNIA_TESTED and "0.8.3" not in KORNIA_TESTED and "0.10.0" not in KORNIA_TESTED


def test_installed_kornia_is_in_the_tested_range():
    assert kornia.__version__ in KORNIA_TESTED, f"kornia {kornia.__version__} is outside the tested {KORNIA_TESTED}"


def test_the_private_api_we_override_keeps_its_shape():
    params = list(inspect.signature(_AugmentationBase.transform_inputs).parameters)
    assert params[:5] == ["self", "input", "params", "flags", "transform"]
    for name in ("_process_kwargs_to_params_and_flags", "transform_tensor", "validate_tensor"):
        assert callable(getattr(_BasicAugmentationBase, name, None)) or callable(getattr(_AugmentationBase, name, None)), name


def test_an_untested_kornia_is_refused_at_import(monkeypatch):
    monkeypatch.setattr(kornia, "__version__", "0.8.3")
    # A fresh copy of the module file, so the already imported package stays as it is.
    spec = importlib.util.spec_from_file_location("_selected_copy", _selected.__file__)
    with pytest.raises(ImportError, match=r"kornia 0\.8\.3 is installed") as refused:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert str(KORNIA_TESTED) in str(refused.value)
