"""Our faster batched ops give Kornia's output on Kornia's own parameters (the semantics we promise)."""

import kornia.augmentation as K
import pytest
import torch

from byol_transfer.augment.ops import _selected, stock
from byol_transfer.augment.ops.color_jitter import FastColorJitter
from byol_transfer.augment.ops.flips import FastHorizontalFlip, FastVerticalFlip
from byol_transfer.augment.ops.gamma import FastGamma
from byol_transfer.augment.ops.gaussian_blur import FastGaussianBlur
from byol_transfer.augment.ops.grayscale import grayscale
from byol_transfer.augment.ops.resized_crop import FastResizedCrop
from byol_transfer.augment.ops.solarize import FastSolarize


def _images(n: int = 24, size: int = 20) -> torch.Tensor:
    x = torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(5))
    x[:3] = x[:3].round()  # saturated colours and ties between channels
    x[3, :, :4] = 0.5  # gray pixels: zero chroma
    x[4] = (x[4] * 255).round() / 255  # 8-bit values
    return x


CASES = {
    "color_jitter": (lambda: FastColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8), lambda: K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8)),
    "color_jitter_strong_hue": (lambda: FastColorJitter(0.4, 0.4, 0.4, 0.5, p=1.0),
                                lambda: K.ColorJitter(0.4, 0.4, 0.4, 0.5, p=1.0)),
    "color_jitter_no_hue": (lambda: FastColorJitter(0.25, 0.25, 0.0, 0.0, p=0.5),
                            lambda: K.ColorJitter(0.25, 0.25, 0.0, 0.0, p=0.5)),
    "blur_2d_kernel": (lambda: FastGaussianBlur(7, (0.1, 2.0), p=0.5), lambda: K.RandomGaussianBlur(7, (0.1, 2.0), p=0.5)),
    "blur_separable": (lambda: FastGaussianBlur(13, (0.1, 3.0), p=1.0), lambda: K.RandomGaussianBlur(13, (0.1, 3.0), p=1.0)),
    "resized_crop_down": (lambda: FastResizedCrop((12, 12)), lambda: K.RandomResizedCrop((12, 12))),
    "resized_crop_up": (lambda: FastResizedCrop((32, 32), scale=(0.01, 1.0)),
                        lambda: K.RandomResizedCrop((32, 32), scale=(0.01, 1.0))),
    "horizontal_flip": (lambda: FastHorizontalFlip(p=0.5), lambda: K.RandomHorizontalFlip(p=0.5)),
    "vertical_flip": (lambda: FastVerticalFlip(p=0.5), lambda: K.RandomVerticalFlip(p=0.5)),
    "solarize": (lambda: FastSolarize(thresholds=(0.5, 0.5), additions=0.0, p=0.5),
                 lambda: K.RandomSolarize(thresholds=(0.5, 0.5), additions=0.0, p=0.5)),
    "solarize_with_additions": (lambda: FastSolarize(thresholds=0.1, additions=0.1, p=0.5),
                                lambda: K.RandomSolarize(thresholds=0.1, additions=0.1, p=0.5)),
    "grayscale": (lambda: grayscale(20, 3, p=0.5), lambda: K.RandomGrayscale(p=0.5)),
    "gamma": (lambda: FastGamma((0.5, 2.0), p=0.5), lambda: K.RandomGamma((0.5, 2.0), p=0.5)),
    "rotation": (lambda: stock.rotation(20, 3, p=0.5, degrees=15), lambda: K.RandomRotation(15.0, p=0.5)),
    "brightness": (lambda: stock.brightness(20, 3, p=0.5, factor=0.3),
                   lambda: K.RandomBrightness((0.7, 1.3), clip_output=False, p=0.5)),
    "contrast": (lambda: stock.contrast(20, 3, p=0.5, factor=0.3),
                 lambda: K.RandomContrast((0.7, 1.3), clip_output=False, p=0.5)),
}


def kornia_on_the_same_parameters(reference, x: torch.Tensor, params: dict) -> torch.Tensor:
    """Kornia's output for ``params``. Kornia's ColorJitter knows one step order per batch, so for our
    per-sample ``orders`` it runs once per group of samples sharing an order, with that order."""
    if "orders" not in params:
        return reference(x, params=params)
    out = torch.empty_like(x)
    codes = [tuple(o) for o in params["orders"].tolist()]
    for order in set(codes):
        rows = torch.tensor([i for i, c in enumerate(codes) if c == order])
        subset = {k: (v[rows] if k not in ("order", "forward_input_shape") else v) for k, v in params.items()}
        subset["order"] = torch.tensor(order)
        del subset["orders"]
        out[rows] = reference(x[rows], params=subset)
    return out


@pytest.mark.parametrize("chunked", [False, True], ids=["whole-batch", "row-chunks"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_op_matches_kornia_on_the_same_parameters(name, chunked, monkeypatch):
    if chunked:  # on CPU large batches run a few rows at a time; force that on this small batch
        monkeypatch.setattr(_selected, "CHUNK_VALUES", 2000)
    make_fast, make_kornia = CASES[name]
    fast, reference = make_fast(), make_kornia()
    x = _images()
    torch.manual_seed(11)
    out = fast(x)
    expected = kornia_on_the_same_parameters(reference, x, fast._params)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    skipped = fast._params["batch_prob"] < 0.5
    if out.shape == x.shape:  # the samples the gate left out come back untouched
        assert torch.equal(out[skipped], x[skipped])
    else:  # a crop changes the size, so it must apply to every sample: none may be left unchanged
        assert not skipped.any()


def test_the_gated_cases_leave_some_samples_out():
    """Guards the check above: with p < 1 the gate must really skip some samples of this batch."""
    partial = 0
    for name, (make_fast, _) in CASES.items():
        fast = make_fast()
        torch.manual_seed(11)
        fast(_images())
        gate = fast._params["batch_prob"]
        partial += bool(0 < gate.sum() < len(gate))
    assert partial >= 8


@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_op_replays_its_parameters_and_leaves_its_input_alone(name):
    fast = CASES[name][0]()
    x = _images()
    before = x.clone()
    first = fast(x)
    again = fast(x, params=fast._params)
    assert torch.equal(first, again)
    assert torch.equal(x, before)


def test_color_jitter_runs_each_sample_in_its_own_drawn_order():
    # brightness then contrast differs from contrast then brightness; every order must match Kornia
    fast, reference = FastColorJitter(0.5, 0.5, 0.0, 0.0, p=1.0), K.ColorJitter(0.5, 0.5, 0.0, 0.0, p=1.0)
    x = _images()
    torch.manual_seed(3)
    out = fast(x)
    orders = fast._params["orders"]
    assert len({tuple(o) for o in orders.tolist()}) >= 8  # per sample, not one order for the batch
    torch.testing.assert_close(out, kornia_on_the_same_parameters(reference, x, fast._params), atol=1e-5, rtol=0)
    # The one batch order Kornia would use gives a different result on the samples ordered otherwise.
    batch_order = reference(x, params={k: v for k, v in fast._params.items() if k != "orders"})
    assert not torch.allclose(out, batch_order, atol=1e-4)


def test_color_jitter_orders_are_uniform_over_the_24_permutations():
    fast = FastColorJitter(0.4, 0.4, 0.2, 0.1, p=1.0)
    torch.manual_seed(0)
    fast(torch.rand(2400, 3, 2, 2))
    orders = fast._params["orders"]
    assert sorted(orders[0].tolist()) == [0, 1, 2, 3]
    counts = torch.unique(orders.long() @ torch.tensor([64, 16, 4, 1]), return_counts=True)[1]
    assert len(counts) == 24 and counts.min() > 60 and counts.max() < 140  # expected 100 each


def test_color_jitter_declares_that_it_needs_unit_range():
    from byol_transfer.augment.ops import build_op
    from byol_transfer.errors import UserError

    spec = {"op": "color_jitter", "p": 0.8}
    build_op(spec, image_size=8, in_chans=3, rgb=True, unit_range=True, where="r.yaml")
    with pytest.raises(UserError, match=r"r.yaml: op 'color_jitter' assumes values in \[0, 1\]"):
        build_op(spec, image_size=8, in_chans=3, rgb=True, unit_range=False, where="r.yaml")


def test_color_jitter_refuses_non_rgb_input():
    with pytest.raises(ValueError, match="3-channel RGB"):
        FastColorJitter(0.4, 0.4, 0.2, 0.1, p=1.0)(torch.rand(2, 4, 8, 8))


@pytest.mark.parametrize("order", ["hvr", "rhv", "vrhr"])
@pytest.mark.parametrize("chunked", [False, True], ids=["whole-batch", "row-chunks"])
def test_fused_crop_flips_quarter_turns_equal_the_ops_one_after_another(order, chunked, monkeypatch):
    from byol_transfer.augment.ops._fused_geometry import FusedCropFlipRotate
    from byol_transfer.augment.ops.rotate90 import RandomRotate90

    if chunked:
        monkeypatch.setattr(_selected, "CHUNK_VALUES", 3000)
    make = {"h": lambda: FastHorizontalFlip(p=0.5), "v": lambda: FastVerticalFlip(p=0.5),
            "r": lambda: RandomRotate90(p=0.7)}
    crop, steps = FastResizedCrop((16, 16)), [make[c]() for c in order]
    fused = FusedCropFlipRotate(crop, steps)
    x = torch.rand(40, 5, 24, 24)
    torch.manual_seed(len(order))
    out = fused(x)

    def part(i):
        return {k.split(".", 1)[1]: v for k, v in fused._params.items() if k.startswith(f"{i}.")}

    expected = x
    for i, op in enumerate([crop, *steps]):
        expected = op(expected, params=part(i))
    assert torch.equal(out, expected)
    # its matrix maps input pixels to output pixels like the composition does
    from kornia.geometry.transform import warp_perspective

    warped = warp_perspective(x, fused.transform_matrix, (16, 16), align_corners=True)
    torch.testing.assert_close(warped, out, atol=1e-4, rtol=0)


def test_views_fuse_geometry_without_changing_what_recipes_declare():
    from byol_transfer.augment.ops._fused_geometry import FusedCropFlipRotate
    from byol_transfer.augment.recipes import build_two_views, load_recipe

    views = build_two_views(load_recipe("satellite_rgb"), 16, 3)
    first = next(iter(views.view1.children()))
    assert isinstance(first, FusedCropFlipRotate)
    assert [type(s).__name__ for s in first.steps] == ["FastHorizontalFlip", "FastVerticalFlip", "RandomRotate90"]
