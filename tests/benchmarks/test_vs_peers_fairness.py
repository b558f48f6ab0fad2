"""benchmarks/vs_peers.py must give every library the same memory format (asserted on what it feeds)."""

import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
pytest.importorskip("lightly")
pytest.importorskip("byol_pytorch")
sys.path.insert(0, str(BENCHMARKS))
import vs_peers  # noqa: E402


@pytest.mark.parametrize("setting", ["nchw", "channels_last", "documented"])
def test_every_library_gets_the_settings_memory_format(setting, one_torch_thread):
    steps, failed = vs_peers.build_steps(vs_peers.LIBRARIES, 3, 32, 4, full=True, setting=setting, precision="fp32")
    assert not failed and set(steps) == set(vs_peers.LIBRARIES)
    for name, step in steps.items():
        fmt = vs_peers.DOCUMENTED[name] if setting == "documented" else vs_peers.FORMATS[setting]
        assert step.fed, f"{name} fed nothing to its encoder"
        for x in step.fed:  # the batches that reached the encoder, and the encoder's first weights
            assert x.ndim == 4 and x.is_contiguous(memory_format=fmt), (name, setting, x.stride())
            other = torch.contiguous_format if fmt == torch.channels_last else torch.channels_last
            assert not x.is_contiguous(memory_format=other), (name, setting, "ambiguous layout")
        assert step.models[0].conv1.weight.is_contiguous(memory_format=fmt), name


def test_documented_setting_differs_only_for_byol_transfer():
    assert vs_peers.DOCUMENTED["byol-transfer"] == torch.channels_last
    assert vs_peers.DOCUMENTED["lightly"] == vs_peers.DOCUMENTED["byol-pytorch"] == torch.contiguous_format
