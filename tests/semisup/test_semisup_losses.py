"""The semi-supervised losses on known inputs: thresholds, values, where gradients may flow, ramp-up."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from byol_transfer.semisup.losses import confident_target_loss, fixmatch_loss, pseudo_labels, sigmoid_rampup
from byol_transfer.semisup.mean_teacher import teacher_tau


def test_pseudo_labels_keep_exactly_the_predictions_at_or_above_the_threshold():
    probabilities = torch.tensor([[0.96, 0.04], [0.05, 0.95], [0.94, 0.06], [0.5, 0.5]])
    labels, mask = pseudo_labels(probabilities, threshold=0.95)
    assert labels[:3].tolist() == [0, 1, 0]
    assert mask.tolist() == [1.0, 1.0, 0.0, 0.0]  # 0.95 counts (≥), 0.94 does not
    assert pseudo_labels(probabilities, threshold=0.5)[1].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_fixmatch_loss_is_the_confident_samples_cross_entropy_averaged_over_all_samples():
    # weak view: sample 0 confidently class 2, sample 1 unsure → only sample 0 counts
    weak = torch.tensor([[0.0, 0.0, 10.0], [1.0, 1.0, 1.2]])
    strong = torch.tensor([[1.0, 2.0, 3.0], [5.0, -1.0, 0.0]], requires_grad=True)
    loss, mask = fixmatch_loss(weak, strong, threshold=0.95)
    expected = F.cross_entropy(strong[:1].detach(), torch.tensor([2])) / 2  # mean over both samples
    assert mask.tolist() == [1.0, 0.0]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert strong.grad[1].abs().sum() == 0  # an unconfident sample gets no gradient
    assert strong.grad[0].abs().sum() > 0


def test_fixmatch_never_sends_gradients_into_the_weak_view():
    weak = torch.randn(8, 5, requires_grad=True) * 10
    weak.retain_grad()
    strong = torch.randn(8, 5, requires_grad=True)
    loss, _ = fixmatch_loss(weak, strong, threshold=0.0)
    loss.backward()
    assert weak.grad is None
    assert strong.grad is not None


def test_threshold_above_every_confidence_gives_zero_loss():
    loss, mask = fixmatch_loss(torch.randn(4, 3), torch.randn(4, 3), threshold=1.0 + 1e-6)
    assert loss.item() == 0.0 and mask.sum() == 0


def test_per_pixel_form_and_pixels_from_outside_the_tile_never_count():
    teacher = torch.zeros(1, 2, 2, 2)
    teacher[0, 1, 0, 0] = 1.0  # one confident pixel of class 1
    teacher[0, :, 0, 1] = 0.5  # unsure
    # pixels (1, 0) and (1, 1): all-zero probabilities, as the warp leaves pixels it brought in from outside
    student = torch.zeros(1, 2, 2, 2)
    loss, mask = confident_target_loss(student, teacher, threshold=0.9)
    assert mask.tolist() == [[[1.0, 0.0], [0.0, 0.0]]]
    assert loss.item() == pytest.approx(math.log(2) / 4)  # uniform student: CE log 2 on 1 of 4 pixels


def test_sigmoid_rampup_start_middle_end():
    assert sigmoid_rampup(0, 100) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(50, 100) == pytest.approx(math.exp(-1.25))
    assert sigmoid_rampup(100, 100) == 1.0 and sigmoid_rampup(10_000, 100) == 1.0
    assert sigmoid_rampup(0, 0) == 1.0


def test_teacher_tau_warms_up_then_holds_the_configured_decay():
    assert teacher_tau(0, 0.99) == pytest.approx(0.1)
    assert teacher_tau(10, 0.99) == pytest.approx(11 / 20)
    assert teacher_tau(10_000, 0.99) == 0.99
