"""models/weights.py adapt_first_conv: the one band-adaptation rule (copy by name, mean elsewhere, × S/T)."""

import pytest
import torch
from timm.models import adapt_input_conv

from byol_transfer.errors import UserError
from byol_transfer.models.weights import adapt_first_conv, format_band_mapping, parse_band_map

S2 = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A"]
RGB = ["red", "green", "blue"]


@pytest.fixture
def weights():
    torch.manual_seed(0)
    return {"conv.weight": torch.randn(8, 3, 3, 3), "bn.bias": torch.randn(8)}


def test_rgb_filters_land_on_b04_b03_b02_and_the_rest_get_the_scaled_mean(weights):
    out, record = adapt_first_conv(weights, "conv.weight", RGB, S2)
    kernel, source = out["conv.weight"], weights["conv.weight"]
    assert kernel.shape == (8, 13, 3, 3)
    scale = 3 / 13  # S/T
    for band, channel in {"B04": 0, "B03": 1, "B02": 2}.items():
        assert torch.equal(kernel[:, S2.index(band)], source[:, channel] * scale), band
    mean = source.mean(dim=1) * scale
    for band in set(S2) - {"B04", "B03", "B02"}:
        assert torch.equal(kernel[:, S2.index(band)], mean), band
    # every source band used once: the summed kernel (the response to equal bands) is kept
    assert torch.allclose(kernel.sum(dim=1), source.sum(dim=1), atol=1e-6)
    assert torch.equal(out["bn.bias"], weights["bn.bias"])
    assert record["B04"] == "red" and record["B02"] == "blue" and record["B01"] == "mean"
    assert format_band_mapping(record).startswith("B01=mean,B02=blue,B03=green,B04=red,B05=mean")


def test_names_are_compared_case_insensitively_with_aliases(weights):
    _, record = adapt_first_conv(weights, "conv.weight", ["B04", "b03", "NIR"], ["Red", "green", "b08", "B11"])
    assert record == {"Red": "B04", "green": "b03", "b08": "NIR", "B11": "mean"}


def test_equal_counts_without_names_or_in_the_same_order_are_unchanged(weights):
    assert adapt_first_conv(weights, "conv.weight", 3, 3) == (weights, None)
    out, record = adapt_first_conv(weights, "conv.weight", RGB, ["RED", "Green", "blue"])
    assert out is weights and record is None


def test_equal_counts_with_names_in_another_order_are_reordered(weights):
    out, record = adapt_first_conv(weights, "conv.weight", RGB, ["blue", "green", "red"])
    assert torch.equal(out["conv.weight"], weights["conv.weight"].flip(1))  # S/T = 1
    assert record == {"blue": "blue", "green": "green", "red": "red"}


def test_repeat_is_timms_adapt_input_conv(weights):
    for target in (1, 2, 4, 13):
        out, record = adapt_first_conv(weights, "conv.weight", 3, target, "repeat")
        assert torch.equal(out["conv.weight"], adapt_input_conv(target, weights["conv.weight"].clone(), 3))
    out, record = adapt_first_conv(weights, "conv.weight", 3, 4, "repeat")
    assert torch.equal(out["conv.weight"][:, 3], weights["conv.weight"][:, 0] * (3 / 4))
    assert record == {"1": "1", "2": "2", "3": "3", "4": "1"}


def test_an_explicit_band_map_overrides_the_names(weights):
    out, record = adapt_first_conv(weights, "conv.weight", RGB, S2, "B04=blue,B02=red,B03=mean,B08=2")
    kernel, source = out["conv.weight"], weights["conv.weight"]
    assert torch.equal(kernel[:, S2.index("B04")], source[:, 2] * (3 / 13))
    assert torch.equal(kernel[:, S2.index("B02")], source[:, 0] * (3 / 13))
    assert torch.equal(kernel[:, S2.index("B03")], source.mean(dim=1) * (3 / 13))
    assert torch.equal(kernel[:, S2.index("B08")], source[:, 1] * (3 / 13))
    assert record["B04"] == "blue" and record["B03"] == "mean" and record["B08"] == "green"


def test_a_band_map_works_without_names(weights):
    out, record = adapt_first_conv(weights, "conv.weight", 3, 5, "3=1,2=2,1=3")
    assert torch.equal(out["conv.weight"][:, 0], weights["conv.weight"][:, 2] * (3 / 5))
    assert record == {"1": "3", "2": "2", "3": "1", "4": "mean", "5": "mean"}


def test_a_count_mismatch_without_names_or_rule_names_both_lists(weights):
    with pytest.raises(UserError, match=r"3 band\(s\) \(no names\), the data have 13 band\(s\) \(B01, B02"):
        adapt_first_conv(weights, "conv.weight", 3, S2)
    with pytest.raises(UserError, match=r"3 band\(s\) \(red, green, blue\), the data have 4 band\(s\) \(no names"):
        adapt_first_conv(weights, "conv.weight", RGB, 4)


def test_named_lists_with_nothing_in_common_are_refused(weights):
    with pytest.raises(UserError, match=r"no band of the data 2 band\(s\) \(VV, VH\) matches"):
        adapt_first_conv(weights, "conv.weight", RGB, ["VV", "VH"])


@pytest.mark.parametrize("text, message", [
    ("B04", "expected TARGET=SOURCE"), ("B99=red", "no target \\(data\\) band named 'B99'"),
    ("B04=teal", "no source \\(weights\\) band named 'teal'"), ("B04=4", "source \\(weights\\) band 4 does not"),
    ("B04=red,b04=green", "mapped twice"),
])
def test_bad_band_maps_are_refused(text, message):
    with pytest.raises(UserError, match=message):
        parse_band_map(text, RGB, S2)
