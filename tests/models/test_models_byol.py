import pytest
import timm
import torch

from byol_transfer.errors import UserError
from byol_transfer.models.backbones import create_backbone, feature_dim
from byol_transfer.models.byol import BYOL, collapse_score
from byol_transfer.models.ema import ema_tau


def _byol(in_chans: int = 3) -> BYOL:
    encoder = create_backbone("byol_tiny_cnn", in_chans)
    return BYOL(encoder, feature_dim(encoder), projector_hidden=64, projector_out=16, predictor_hidden=64)


def test_target_is_a_separate_network_sharing_no_storage():
    # TorchGeo's BYOL wrapped the same module as target for years (PR #3954).
    model = _byol()
    assert model.target_encoder is not model.online_encoder
    assert model.target_projector is not model.online_projector
    online = {p.data_ptr() for p in model.online_parameters()}
    online |= {b.data_ptr() for b in model.online_encoder.buffers()}
    target = {p.data_ptr() for p in model.target_parameters()}
    target |= {b.data_ptr() for b in model.target_encoder.buffers()}
    assert online.isdisjoint(target)
    assert all(not p.requires_grad for p in model.target_parameters())


def test_target_gets_no_gradient_and_moves_only_by_ema():
    model = _byol()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x1, x2 = torch.randn(8, 3, 16, 16), torch.randn(8, 3, 16, 16)
    target_before = [p.clone() for p in model.target_parameters()]
    online_before = [p.clone() for p in model.online_encoder.parameters()]
    out = model(x1, x2)
    out.loss.backward()
    assert all(p.grad is None for p in model.target_parameters())
    optimizer.step()
    # the optimiser step moved the online network but not the target
    assert any(not torch.equal(a, b) for a, b in zip(online_before, model.online_encoder.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(target_before, model.target_parameters()))
    tau = ema_tau(0, 100, 0.996)
    model.update_target(tau)
    online_now = list(model.online_encoder.parameters()) + list(model.online_projector.parameters())
    for before, online, target in zip(target_before, online_now, model.target_parameters()):
        torch.testing.assert_close(target, tau * before + (1 - tau) * online)


def test_predictor_is_online_only_and_mlps_have_the_paper_shape():
    model = _byol()
    layers = [type(m).__name__ for m in model.online_projector]
    assert layers == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert model.online_projector[0].out_features == 64 and model.online_projector[3].out_features == 16
    assert model.predictor[0].in_features == 16 and model.predictor[3].out_features == 16
    assert not hasattr(model, "target_predictor")


def test_default_heads_are_4096_to_256():
    encoder = create_backbone("byol_tiny_cnn", 3)
    model = BYOL(encoder, feature_dim(encoder))
    assert model.online_projector[0].out_features == 4096
    assert model.online_projector[3].out_features == 256
    assert model.predictor[3].out_features == 256


@pytest.mark.parametrize("channels", [1, 3, 4, 13])
def test_any_channel_count_trains(channels):
    # byol-pytorch's mock forward is hard-coded to 3 channels and crashes on 13 bands.
    model = _byol(channels)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    out = model(torch.randn(4, channels, 16, 16), torch.randn(4, channels, 16, 16))
    out.loss.backward()
    optimizer.step()
    assert torch.isfinite(out.loss)
    assert model.online_encoder.stem[0].weight.shape[1] == channels


@pytest.mark.parametrize("channels", [1, 4, 13])
def test_timm_backbones_take_any_channel_count(channels):
    backbone = create_backbone("resnet18", channels)
    assert backbone(torch.randn(2, channels, 32, 32)).shape == (2, 512)


@pytest.mark.parametrize("local_crops", [0, 4])  # 4: multi-crop, 8 px local views through the online network
def test_loss_falls_on_a_fixed_batch(local_crops):
    torch.manual_seed(0)
    model = _byol(3)
    optimizer = torch.optim.AdamW(model.online_parameters(), lr=3e-3)
    x1, x2 = torch.randn(16, 3, 16, 16), torch.randn(16, 3, 16, 16)
    local = [torch.randn(16, 3, 8, 8) for _ in range(local_crops)]
    losses = []
    for step in range(20):
        out = model(x1, x2, local)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        model.update_target(ema_tau(step, 20, 0.99))
        losses.append(out.loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_unknown_backbone_is_a_user_error():
    with pytest.raises(UserError, match="unknown backbone 'resnet_nonexistent'"):
        create_backbone("resnet_nonexistent", 3)


def test_tiny_cnn_is_registered_in_timm():
    assert timm.is_model("byol_tiny_cnn")
    model = timm.create_model("byol_tiny_cnn", num_classes=0, in_chans=5)
    assert model(torch.randn(2, 5, 16, 16)).shape == (2, model.num_features)


def test_collapse_score_is_about_one_when_spread_and_zero_when_collapsed():
    spread = torch.randn(512, 64)
    assert collapse_score(spread) == pytest.approx(1.0, abs=0.1)
    collapsed = torch.ones(512, 64) + 1e-6 * torch.randn(512, 64)
    assert collapse_score(collapsed) < 0.01


def _pair_of_models(channels: int = 3) -> tuple[BYOL, BYOL]:
    """The same weights, BatchNorm over both views (joint) or per view (separate)."""
    joint = _byol(channels)
    encoder = create_backbone("byol_tiny_cnn", channels)
    separate = BYOL(encoder, feature_dim(encoder), projector_hidden=64, projector_out=16, predictor_hidden=64,
                    view_batchnorm="separate")
    separate.load_state_dict(joint.state_dict(), strict=True)
    return joint, separate


def test_separate_view_batchnorm_is_one_pass_per_view():
    joint, separate = _pair_of_models()
    v1, v2 = torch.rand(6, 3, 16, 16), torch.rand(6, 3, 16, 16) + 0.5  # views with different statistics
    # In eval mode BatchNorm uses its running statistics: both modes compute the same loss.
    joint.eval(), separate.eval()
    torch.testing.assert_close(joint(v1, v2).loss, separate(v1, v2).loss)
    joint.train(), separate.train()
    loss_separate = separate(v1, v2).loss
    # by hand: each view alone through the same (train-mode) networks
    m = separate
    p1 = m.predictor(m.online_projector(m.online_encoder(v1)))
    p2 = m.predictor(m.online_projector(m.online_encoder(v2)))
    with torch.no_grad():
        z1, z2 = m.target_projector(m.target_encoder(v1)), m.target_projector(m.target_encoder(v2))
    from byol_transfer.models.losses import byol_symmetric_loss

    torch.testing.assert_close(loss_separate, byol_symmetric_loss(p1, p2, z1, z2))
    # In train mode BatchNorm normalises with the batch's statistics: over both views, the loss differs.
    assert not torch.allclose(joint(v1, v2).loss, loss_separate, atol=1e-4)


def test_view_batchnorm_must_be_joint_or_separate():
    with pytest.raises(ValueError, match="view_batchnorm"):
        BYOL(create_backbone("byol_tiny_cnn", 3), 64, view_batchnorm="per_view")


def test_view_batchnorm_is_a_model_config_key():
    from byol_transfer.config import ModelConfig, from_dict

    assert from_dict(ModelConfig, {"view_batchnorm": "separate"}).view_batchnorm == "separate"
    assert ModelConfig().view_batchnorm == "joint"
    with pytest.raises(UserError, match="view_batchnorm"):
        from_dict(ModelConfig, {"view_batchnorm": "per_view"})


# --- multi-crop: local views through the online network only ------------------------------------------

class ShapeSpy(torch.nn.Module):
    """Wraps a network in a test and records the shape of every batch it is given."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        return self.inner(x)


@pytest.mark.parametrize("mode", ["joint", "separate"])
def test_local_views_never_reach_the_target_network(mode):
    encoder = create_backbone("byol_tiny_cnn", 3)
    model = BYOL(encoder, feature_dim(encoder), 64, 16, 64, view_batchnorm=mode)
    model.target_encoder = target = ShapeSpy(model.target_encoder)
    model.online_encoder = online = ShapeSpy(model.online_encoder)
    v1, v2 = torch.randn(4, 3, 16, 16), torch.randn(4, 3, 16, 16)
    local = [torch.randn(4, 3, 8, 8) for _ in range(3)]
    model(v1, v2, local).loss.backward()
    # the target sees the two global views and nothing else: 8 px batches never reach it
    assert target.seen == ([(8, 3, 16, 16)] if mode == "joint" else [(4, 3, 16, 16), (4, 3, 16, 16)])
    local_passes = [s for s in online.seen if s[-1] == 8]
    assert local_passes == ([(12, 3, 8, 8)] if mode == "joint" else [(4, 3, 8, 8)] * 3)
    assert all(p.grad is None for p in model.target_parameters())


def _todays_loss(model: BYOL, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
    """The two-view forward as it was before multi-crop (models/byol.py before issue 15)."""
    from byol_transfer.models.losses import byol_symmetric_loss

    if model.view_batchnorm == "joint":
        b = v1.shape[0]
        views = torch.cat([v1, v2])
        prediction = model.predictor(model.online_projector(model.online_encoder(views)))
        with torch.no_grad():
            target = model.target_projector(model.target_encoder(views))
        return byol_symmetric_loss(prediction[:b], prediction[b:], target[:b], target[b:])
    p1 = model.predictor(model.online_projector(model.online_encoder(v1)))
    p2 = model.predictor(model.online_projector(model.online_encoder(v2)))
    with torch.no_grad():
        z1, z2 = model.target_projector(model.target_encoder(v1)), model.target_projector(model.target_encoder(v2))
    return byol_symmetric_loss(p1, p2, z1, z2)


@pytest.mark.parametrize("mode", ["joint", "separate"])
def test_no_local_views_gives_todays_loss_and_gradients_bit_for_bit(mode):
    torch.manual_seed(5)
    encoder = create_backbone("byol_tiny_cnn", 3)
    model = BYOL(encoder, feature_dim(encoder), 64, 16, 64, view_batchnorm=mode)
    v1, v2 = torch.randn(6, 3, 16, 16), torch.randn(6, 3, 16, 16)
    state = {k: v.clone() for k, v in model.state_dict().items()}  # BatchNorm running stats move per pass
    expected = _todays_loss(model, v1, v2)
    expected.backward()
    expected_grads = [p.grad.clone() for p in model.online_parameters()]
    for local in ((), []):
        model.load_state_dict(state, strict=True)
        model.zero_grad(set_to_none=True)
        loss = model(v1, v2, local).loss
        loss.backward()
        assert torch.equal(loss, expected)
        assert all(torch.equal(p.grad, g) for p, g in zip(model.online_parameters(), expected_grads))


@pytest.mark.parametrize("channels", [1, 3, 13])
def test_local_views_train_with_any_channel_count(channels):
    model = _byol(channels)
    local = [torch.randn(4, channels, 8, 8) for _ in range(2)]
    out = model(torch.randn(4, channels, 16, 16), torch.randn(4, channels, 16, 16), local)
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.loss.shape == ()
    assert out.online_projection.shape == (8, 16)  # the global views only: what the collapse monitor reads
    assert model.online_encoder.stem[0].weight.grad.shape[1] == channels

