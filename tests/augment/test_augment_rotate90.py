"""Quarter turns: uniform over four orientations, exact, with a matrix that matches the pixels."""

import kornia.augmentation as K
import pytest
import torch
from kornia.geometry.transform import warp_affine

from byol_transfer.augment.ops.rotate90 import RandomRotate90


def test_each_sample_gets_an_exact_quarter_turn():
    op = RandomRotate90(p=1.0)
    x = torch.rand(32, 2, 9, 9)
    out = op(x)
    turns = op._params["quarter_turns"]
    for i in range(32):
        assert torch.equal(out[i], torch.rot90(x[i], int(turns[i]), dims=(-2, -1)))


def test_all_four_orientations_are_equally_likely():
    op = RandomRotate90(p=1.0)
    op(torch.rand(4000, 1, 2, 2))
    counts = torch.bincount(op._params["quarter_turns"], minlength=4).float() / 4000
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.03)


def test_transformation_matrix_warps_like_the_rotation():
    op = RandomRotate90(p=1.0)
    x = torch.rand(8, 1, 7, 7)
    out = op(x)
    matrix = op.transform_matrix
    warped = warp_affine(x, matrix[:, :2], (7, 7), align_corners=True)
    torch.testing.assert_close(warped, out, atol=1e-5, rtol=0)


def test_works_inside_augmentation_sequential_with_a_gate():
    seq = K.AugmentationSequential(RandomRotate90(p=0.5), data_keys=["input"])
    x = torch.rand(16, 3, 8, 8)
    out = seq(x)
    assert out.shape == x.shape


def test_refuses_non_square_images():
    with pytest.raises(ValueError, match="square"):
        RandomRotate90(p=1.0)(torch.rand(2, 1, 4, 6))
