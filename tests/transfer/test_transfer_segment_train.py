"""IoU/Dice on hand-made masks; a frozen encoder stays bit-identical; tiled prediction blends exactly."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from byol_transfer.augment.scaling import Normalize, ValueScaling
from byol_transfer.augment.views import EvalTransform
from byol_transfer.config import ScalingSpec
from byol_transfer.transfer.evaluators.segment_finetune import SegFinetuneSettings
from byol_transfer.transfer.geometry import Geometry
from byol_transfer.transfer.metrics import segmentation_metrics
from byol_transfer.transfer.tasks.segmentation.predict import blend_window, predict_probabilities, tile_starts
from byol_transfer.transfer.tasks.segmentation.smp import create_segmentation_model, encoder_module
from byol_transfer.transfer.tasks.segmentation.task import train_segmentation


def test_iou_and_dice_on_hand_made_masks():
    target = torch.tensor([[0, 0, 1, 1],
                           [0, 0, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 1],
                         [0, 0, 1, 1]])
    m = segmentation_metrics(pred, target, ["land", "water"])
    # land: tp 3, fp 0, fn 1 → IoU 3/4, Dice 6/7; water: tp 4, fp 1, fn 0 → IoU 4/5, Dice 8/9
    assert m["IoU[land]"] == pytest.approx(3 / 4)
    assert m["Dice[land]"] == pytest.approx(6 / 7)
    assert m["IoU[water]"] == pytest.approx(4 / 5)
    assert m["Dice[water]"] == pytest.approx(8 / 9)
    assert m["mIoU"] == pytest.approx((3 / 4 + 4 / 5) / 2)
    assert m["mDice"] == pytest.approx((6 / 7 + 8 / 9) / 2)


def test_metrics_sum_pixels_over_images_and_skip_absent_classes():
    target = torch.tensor([[[0, 0], [0, 0]], [[1, 1], [0, 0]]])
    pred = torch.tensor([[[0, 0], [0, 1]], [[1, 1], [0, 0]]])
    m = segmentation_metrics(pred, target, ["a", "b", "c"])
    # over both images: a: tp 5, fp 0, fn 1 → 5/6; b: tp 2, fp 1, fn 0 → 2/3; c never occurs → NaN
    assert m["IoU[a]"] == pytest.approx(5 / 6)
    assert m["IoU[b]"] == pytest.approx(2 / 3)
    assert math.isnan(m["IoU[c]"]) and math.isnan(m["Dice[c]"])
    assert m["mIoU"] == pytest.approx((5 / 6 + 2 / 3) / 2)
    assert segmentation_metrics(target, target, ["a", "b", "c"])["mIoU"] == 1.0


def _identity_transform(channels: int) -> EvalTransform:
    return EvalTransform(ValueScaling(ScalingSpec(kind="divide", value=10000.0)),
                         Normalize([0.2] * channels, [0.1] * channels))


def _train(freeze: bool, seg_write):
    rng = __import__("numpy").random.default_rng(0)
    pairs = [seg_write.water_pair(32, 4, rng) for _ in range(6)]
    images = torch.stack([torch.from_numpy(p[0].astype("int32")) for p in pairs])
    masks = torch.stack([torch.from_numpy(p[1]).long() for p in pairs])
    torch.manual_seed(0)
    model = create_segmentation_model("unet", "tu-resnet18", 4, 2)
    encoder_before = {k: v.clone() for k, v in encoder_module(model).state_dict().items()}
    decoder_before = {k: v.clone() for k, v in model.decoder.state_dict().items()}
    settings = SegFinetuneSettings(epochs=1, batch_size=2, min_epoch_samples=0, freeze_encoder=freeze)
    result = train_segmentation(model, _identity_transform(4), images[:4], masks[:4], images[4:], masks[4:],
                                ["land", "water"], Geometry(hflip=True, rot90=True), settings, seed=0)
    assert result.epochs_run == 1 and result.best_epoch == 1 and 0 <= result.best["val_mIoU"] <= 1
    return model, encoder_before, decoder_before


def test_frozen_encoder_weights_and_bn_statistics_do_not_move(seg_write):
    model, encoder_before, decoder_before = _train(True, seg_write)
    after = encoder_module(model).state_dict()
    assert any(k.endswith("running_mean") for k in after) and any(k.endswith("num_batches_tracked") for k in after)
    for key, tensor in encoder_before.items():
        assert torch.equal(after[key], tensor), key
    assert not all(p.requires_grad for p in model.encoder.parameters())
    decoder_after = model.decoder.state_dict()
    assert any(not torch.equal(decoder_after[k], v) for k, v in decoder_before.items())  # the decoder trained


def test_unfrozen_encoder_does_move(seg_write):
    """The control: the same steps without freezing change encoder weights and BN statistics."""
    model, encoder_before, _ = _train(False, seg_write)
    after = encoder_module(model).state_dict()
    assert not torch.equal(after["conv1.weight"], encoder_before["conv1.weight"])
    assert not torch.equal(after["bn1.running_mean"], encoder_before["bn1.running_mean"])


def test_tile_starts_cover_the_image_and_end_flush():
    assert tile_starts(32, 32, 24) == [0]
    assert tile_starts(20, 32, 24) == [0]
    assert tile_starts(70, 32, 24) == [0, 24, 38]
    assert tile_starts(80, 32, 24) == [0, 24, 48]
    window = blend_window(32)
    assert window.min() > 0 and window.max() <= 1


@pytest.mark.parametrize("height,width", [(70, 45), (20, 33), (32, 32)])
def test_tiled_prediction_of_a_pixelwise_model_equals_whole_image_prediction(height, width):
    """With a per-pixel model every tile agrees, so blending must give the whole-image result exactly."""
    torch.manual_seed(0)
    model = nn.Conv2d(3, 4, kernel_size=1)
    image = torch.randn(3, height, width)
    tiled = predict_probabilities(model, image, 4, tile=32, overlap=0.25, batch_size=3)
    with torch.no_grad():
        whole = model(image[None]).softmax(1)[0]
    assert tiled.shape == (4, height, width)
    assert torch.allclose(tiled, whole, atol=1e-6)


@pytest.mark.parametrize("resize,expected_scale", [({"mode": "none"}, 1.0), ({"mode": "scale", "factor": 0.5}, 0.5),
                                                   ({"mode": "shorter_side"}, 32 / 48)])
def test_predict_resizes_like_training_and_returns_the_input_size(resize, expected_scale):
    from byol_transfer.transfer.tasks.segmentation.predict import predict_image, resize_factor

    assert resize_factor(resize, 48, 100, 32) == pytest.approx(expected_scale)
    torch.manual_seed(0)
    model = nn.Conv2d(4, 2, kernel_size=1)
    raw = torch.randint(0, 10_000, (4, 48, 100), dtype=torch.int32)
    out = predict_image(model, raw, _identity_transform(4), 2, tile=32, scale=expected_scale)
    assert out.shape == (48, 100) and out.dtype == torch.long
