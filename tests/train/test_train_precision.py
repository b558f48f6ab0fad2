"""train.precision: auto picks bf16 only where this machine runs it natively and faster; explicit values win."""

from __future__ import annotations

import pytest
import torch

from byol_transfer.train import precision as precision_module
from byol_transfer.train.precision import bf16_matmul_speedup, choose_precision

CPU = torch.device("cpu")


def _never(*_):  # noqa: ANN002, ANN202
    raise AssertionError("the timed matmul must not run here")


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("setting", ["fp32", "bf16"])
def test_explicit_settings_win_whatever_the_machine(monkeypatch, setting, native):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: native)
    assert choose_precision(setting, CPU, measure=_never).name == setting


def test_auto_is_fp32_without_native_bf16_and_does_not_time_anything(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: False)
    chosen = choose_precision("auto", CPU, measure=_never)
    assert chosen.name == "fp32" and "no native bf16" in chosen.reason


def test_auto_is_bf16_with_native_bf16_confirmed_by_the_matmul(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: True)
    chosen = choose_precision("auto", CPU, measure=lambda: 1.6)
    assert chosen.name == "bf16" and chosen.dtype is torch.bfloat16 and "1.6x faster" in chosen.reason


def test_auto_is_fp32_when_the_flags_claim_bf16_but_the_matmul_is_slower(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_native_bf16", lambda: True)
    chosen = choose_precision("auto", CPU, measure=lambda: 0.05)
    assert chosen.name == "fp32" and "20.0x slower" in chosen.reason


def test_auto_on_cuda_follows_the_gpus_bf16_support(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert choose_precision("auto", cuda, measure=_never).name == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert choose_precision("auto", cuda, measure=_never).name == "fp32"


def test_the_timed_matmul_returns_a_positive_ratio_quickly():
    ratio = bf16_matmul_speedup(seconds=0.1, size=64)
    assert ratio > 0


def test_a_bf16_divergence_names_the_flags_that_avoid_it_and_an_fp32_one_does_not():
    from byol_transfer.augment.recipes import load_recipe
    from byol_transfer.config import to_dict
    from byol_transfer.train.loop import _bf16_hint
    from byol_transfer.train.run_config import resolve_config

    def config(*sets: str):
        return resolve_config({"recipe": to_dict(load_recipe("natural_rgb"))}, "test", {}, list(sets))

    plain = config("train.channels_last=true")
    multicrop = config("recipe.local_crops.number=2", "train.channels_last=true")
    assert _bf16_hint("fp32", CPU, multicrop) == ""
    assert _bf16_hint("bf16", CPU, plain) == " or use --set train.precision=fp32"
    assert "--set train.channels_last=false" in _bf16_hint("bf16", CPU, multicrop)
    assert "channels_last" not in _bf16_hint("bf16", torch.device("cuda"), multicrop)
