"""The mean teacher: a separate network without gradients that follows the student by EMA, and is kept."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from byol_transfer.augment.recipes import build_eval_transform, recipe_from_dict
from byol_transfer.semisup import MeanTeacher, MeanTeacherSettings, UnlabeledPool
from byol_transfer.semisup.mean_teacher import teacher_tau
from byol_transfer.transfer.evaluators.segment_finetune import SegFinetuneSettings
from byol_transfer.transfer.geometry import Geometry
from byol_transfer.transfer.tasks.segmentation.task import train_segmentation

RECIPE = recipe_from_dict({"name": "t", "channels": {"count": "any"}, "scaling": {"kind": "auto"},
                           "normalize": {"mean": [0.5], "std": [0.25]},
                           "view1": [{"op": "horizontal_flip", "p": 0.5}, {"op": "rotate90", "p": 1.0},
                                     {"op": "brightness", "p": 0.8, "factor": 0.1}],
                           "view2": [{"op": "horizontal_flip", "p": 0.5}]}, "t")


class TinySegNet(nn.Module):
    """conv → BN → ReLU → 1×1 conv: enough to segment bright squares, with BN buffers to follow."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def squares(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    images = torch.full((n, 1, 16, 16), 30, dtype=torch.uint8)
    masks = torch.zeros(n, 16, 16, dtype=torch.long)
    for i in range(n):
        top, left = torch.randint(0, 10, (2,), generator=g).tolist()
        images[i, :, top:top + 6, left:left + 6] = 220
        masks[i, top:top + 6, left:left + 6] = 1
    return images, masks


def mean_teacher(student: nn.Module, ema: float = 0.9) -> MeanTeacher:
    images, _ = squares(32)
    return MeanTeacher(student, UnlabeledPool(images, 0), RECIPE, build_eval_transform(RECIPE, 1), 2, 4,
                       MeanTeacherSettings(threshold=0.0, ema=ema, rampup=0.0))


def test_teacher_is_a_separate_network_without_gradients():
    student = TinySegNet()
    mt = mean_teacher(student)
    teacher = mt.eval_model(student)
    assert teacher is not student and teacher is mt.teacher
    student_ptrs = {p.data_ptr() for p in student.parameters()}
    assert all(p.data_ptr() not in student_ptrs for p in teacher.parameters())
    assert not any(p.requires_grad for p in teacher.parameters()) and not teacher.training
    student.train()
    loss, stats = mt.loss(student, step=0, total_steps=10)
    loss.backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.grad is not None for p in student.parameters())
    assert stats["pseudo_label_rate"] == 1.0  # threshold 0: every pixel is a target


def test_teacher_follows_the_student_by_ema_with_the_warm_up_schedule():
    student = TinySegNet()
    mt = mean_teacher(student, ema=0.9)
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    for step in range(3):
        before = [p.detach().clone() for p in mt.teacher.parameters()]
        student.train()
        optimizer.zero_grad()
        mt.loss(student, step, 10)[0].backward()
        optimizer.step()
        mt.after_step(student)
        tau = teacher_tau(step, 0.9)
        assert tau == pytest.approx([0.1, 2 / 11, 0.25][step])
        for old, new, s in zip(before, mt.teacher.parameters(), student.parameters()):
            torch.testing.assert_close(new, tau * old + (1 - tau) * s.detach(), rtol=1e-6, atol=1e-7)
        # following, not copying (a conv bias before BN gets no gradient and may stay equal)
        assert any(not torch.equal(t, s) for t, s in zip(mt.teacher.parameters(), student.parameters()))
        for t_buffer, s_buffer in zip(mt.teacher.buffers(), student.buffers()):
            assert torch.equal(t_buffer, s_buffer)  # BN statistics are copied


def test_training_with_a_teacher_keeps_the_teachers_weights():
    images, masks = squares(24)
    student = TinySegNet()
    holder = {}

    def build(model: nn.Module) -> MeanTeacher:
        holder["mt"] = mean_teacher(model, ema=0.9)
        return holder["mt"]

    settings = SegFinetuneSettings(epochs=2, batch_size=4, min_epoch_samples=8)
    result = train_segmentation(student, build_eval_transform(RECIPE, 1), images[:8], masks[:8], images[:0],
                                masks[:0], ["background", "square"], Geometry(hflip=True), settings, 0,
                                consistency=build)
    assert result.consistency_stats["pseudo_label_rate"] == 1.0
    teacher_state = holder["mt"].teacher.state_dict()
    assert all(torch.equal(v, teacher_state[k]) for k, v in student.state_dict().items())


def test_strong_pass_uses_batch_statistics_but_leaves_running_statistics_alone():
    from byol_transfer.semisup.batchnorm import running_stats_frozen

    net = nn.Sequential(nn.Conv2d(1, 4, 1), nn.BatchNorm2d(4, momentum=0.1))
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items() if "running" in k}
    with running_stats_frozen(net):
        out = net(torch.randn(8, 1, 5, 5) * 7 + 3)
    assert out.mean((0, 2, 3)).abs().max() < 1e-5  # normalised with the batch's own statistics
    assert all(torch.equal(net.state_dict()[k], v) for k, v in before.items())
    assert net[1].momentum == 0.1  # restored
    net(torch.randn(8, 1, 5, 5) * 7 + 3)  # outside the block the running statistics move again
    assert not torch.equal(net.state_dict()["1.running_mean"], before["1.running_mean"])
