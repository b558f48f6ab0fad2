"""kaiming_init: torchvision's ResNet init for timm models, seeded, and where it differs from timm's."""

from __future__ import annotations

import math

import pytest
import timm
import torch
from torch import nn

from byol_transfer.models.backbones import create_backbone
from byol_transfer.models.init_schemes import EMBEDDING_STD, kaiming_init


def _resnet18() -> nn.Module:
    return create_backbone("resnet18", 3)


def test_residual_branches_are_not_zeroed_unlike_timms_default():
    timm_default = _resnet18()
    blocks = [m for m in timm_default.modules() if isinstance(m, timm.models.resnet.BasicBlock)]
    assert len(blocks) == 8
    assert all(b.bn2.weight.eq(0).all() for b in blocks)  # timm: every block starts as the identity

    model = kaiming_init(_resnet18(), seed=0)
    bns = {n: m for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert all(m.weight.eq(1).all() and m.bias.eq(0).all() for m in bns.values())
    # where the two differ in BN γ is exactly the last BN of each block, nothing else
    default_bns = dict(timm_default.named_modules())
    differing = {n for n, m in bns.items() if not torch.equal(m.weight, default_bns[n].weight)}
    assert differing == {n for n in bns if n.startswith("layer") and n.endswith(".bn2")}
    assert len(differing) == 8


def test_convolutions_are_he_normal_fan_out():
    model = kaiming_init(_resnet18(), seed=1)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 20
    for conv in convs:
        fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
        expected = math.sqrt(2.0 / fan_out)
        assert abs(conv.weight.std().item() / expected - 1) < 0.10, (conv, conv.weight.std().item(), expected)
        assert abs(conv.weight.mean().item()) < 0.1 * expected


def test_linear_layers_get_pytorchs_default_and_conv_bias_is_zero():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, bias=True), nn.Flatten(), nn.Linear(400, 300))
    nn.init.constant_(model[0].bias, 5.0)
    nn.init.constant_(model[2].weight, 5.0)
    kaiming_init(model, seed=0)
    assert model[0].bias.eq(0).all()
    bound = 1 / math.sqrt(400)  # U(±1/√fan_in): std bound/√3
    assert model[2].weight.abs().max() <= bound
    assert abs(model[2].weight.std().item() / (bound / math.sqrt(3)) - 1) < 0.05


def test_same_seed_same_weights_different_seed_different():
    a = kaiming_init(_resnet18(), seed=3).state_dict()
    b = kaiming_init(_resnet18(), seed=3).state_dict()
    c = kaiming_init(_resnet18(), seed=4).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
    # the model's own construction-time draws do not leak in
    torch.manual_seed(123)
    d = kaiming_init(_resnet18(), seed=3).state_dict()
    assert all(torch.equal(a[k], d[k]) for k in a)


def test_a_generator_seeds_it_and_advances():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    first = kaiming_init(_resnet18(), seed=g1).state_dict()["conv1.weight"]
    assert torch.equal(first, kaiming_init(_resnet18(), seed=g2).state_dict()["conv1.weight"])
    second = kaiming_init(_resnet18(), seed=g1).state_dict()["conv1.weight"]
    assert not torch.equal(first, second)


def test_the_global_rng_is_left_alone():
    model = _resnet18()
    torch.manual_seed(42)
    before = torch.get_rng_state()
    kaiming_init(model, seed=9)
    assert torch.equal(torch.get_rng_state(), before)


def test_running_statistics_are_reset():
    model = _resnet18()
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 32, 32) * 3 + 1)
    assert not model.bn1.running_mean.eq(0).all()
    kaiming_init(model)
    assert model.bn1.running_mean.eq(0).all() and model.bn1.running_var.eq(1).all()


def test_vit_layer_scale_norms_and_embeddings():
    """No BN: LayerNorm γ 1 β 0, layer scale 1 (timm: 1e-5, every block near the identity), embeddings 0.02."""
    def build() -> nn.Module:
        return timm.create_model("vit_tiny_patch16_224", num_classes=0, img_size=32, init_values=1e-5)

    default = build()
    assert default.blocks[0].ls1.gamma.max().item() == pytest.approx(1e-5)
    model = kaiming_init(build(), seed=0)
    assert all(b.ls1.gamma.eq(1).all() and b.ls2.gamma.eq(1).all() for b in model.blocks)
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert norms and all(m.weight.eq(1).all() and m.bias.eq(0).all() for m in norms)
    assert model.pos_embed.std().item() == pytest.approx(EMBEDDING_STD, rel=0.2)
    assert model.cls_token.abs().max() <= 2 * EMBEDDING_STD
    qkv = model.blocks[0].attn.qkv
    assert qkv.weight.abs().max() <= 1 / math.sqrt(qkv.in_features)  # PyTorch's default Linear init
    again = kaiming_init(build(), seed=0).state_dict()
    assert all(torch.equal(v, again[k]) for k, v in model.state_dict().items())


def test_convnext_block_gamma_is_one():
    model = kaiming_init(timm.create_model("convnext_atto", num_classes=0), seed=0)
    gammas = [m.gamma for m in model.modules() if type(m).__name__ == "ConvNeXtBlock"]
    assert gammas and all(g.eq(1).all() for g in gammas)
