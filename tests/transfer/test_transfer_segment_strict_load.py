"""A BYOL export loads strictly into smp encoders, tensor for tensor; mismatches name keys and shapes."""

from __future__ import annotations

import pytest
import torch

from byol_transfer.errors import UserError
from byol_transfer.models.backbones import create_backbone
from byol_transfer.transfer.tasks.segmentation.smp import (
    copy_backbone_into_encoder,
    create_segmentation_model,
    encoder_module,
    load_export_into_encoder,
)


@pytest.mark.parametrize("channels", [3, 4, 13])
def test_export_loads_into_tu_resnet18_and_every_tensor_is_equal(export_file, channels):
    path, weights = export_file("resnet18", channels)
    model = create_segmentation_model("unet", "tu-resnet18", channels, 2)
    before = {k: v.clone() for k, v in encoder_module(model).state_dict().items()}
    unused = load_export_into_encoder(model, "tu-resnet18", path)

    assert unused == []
    loaded = encoder_module(model).state_dict()
    assert set(loaded) == set(weights)
    for key, tensor in weights.items():
        assert torch.equal(loaded[key], tensor), key
    # BN statistics are part of the export and were really replaced (not left at their init)
    assert not torch.equal(before["bn1.running_mean"], loaded["bn1.running_mean"])
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, channels, 32, 32)).shape == (1, 2, 32, 32)


def test_timm_resnet_export_also_fits_smp_native_resnet_encoder(export_file):
    path, weights = export_file("resnet18", 3)
    model = create_segmentation_model("fpn", "resnet18", 3, 2)  # smp's own (torchvision-style) encoder
    assert load_export_into_encoder(model, "resnet18", path) == []
    loaded = model.encoder.state_dict()
    assert set(loaded) == set(weights)
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())


def test_flattened_feature_names_map_back_and_head_only_tensors_are_reported(export_file):
    """convnext: timm's feature wrapper renames stages.0 → stages_0 and drops head.norm."""
    path, weights = export_file("convnext_atto", 4)
    model = create_segmentation_model("unet", "tu-convnext_atto", 4, 2)
    unused = load_export_into_encoder(model, "tu-convnext_atto", path)

    assert unused == ["head.norm.bias", "head.norm.weight"]
    loaded = encoder_module(model).state_dict()
    assert "stages_0.blocks.0.conv_dw.weight" in loaded
    for key, tensor in loaded.items():
        head, _, rest = key.partition(".")
        source = head.replace("stages_", "stages.").replace("stem_", "stem.") + "." + rest
        assert torch.equal(tensor, weights[source]), key


def test_other_channel_count_is_refused_naming_the_stem_and_shapes(export_file):
    path, _ = export_file("resnet18", 3)
    model = create_segmentation_model("unet", "tu-resnet18", 4, 2)
    with pytest.raises(UserError, match=r"conv1\.weight is \(64, 3, 7, 7\).*3-channel.*4 channel"):
        load_export_into_encoder(model, "tu-resnet18", path)


def test_cifar_style_stem_is_refused_with_a_hint(export_file):
    weights = dict(create_backbone("resnet18", 3).state_dict())
    weights["conv1.weight"] = torch.randn(64, 3, 3, 3)
    path, _ = export_file("resnet18", 3, weights=weights)
    model = create_segmentation_model("unet", "tu-resnet18", 3, 2)
    with pytest.raises(UserError, match=r"conv1\.weight is \(64, 3, 3, 3\) but resnet18 has \(64, 3, 7, 7\).*CIFAR"):
        load_export_into_encoder(model, "tu-resnet18", path)


def test_other_architecture_is_refused(export_file):
    path, _ = export_file("resnet34", 3)
    model = create_segmentation_model("unet", "tu-resnet18", 3, 2)
    with pytest.raises(UserError, match=r"resnet34 backbone but the encoder is tu-resnet18; use --encoder resnet34"):
        load_export_into_encoder(model, "tu-resnet18", path)


def test_missing_and_renamed_keys_are_listed(export_file):
    weights = dict(create_backbone("resnet18", 3).state_dict())
    weights["module.layer4.1.bn2.weight"] = weights.pop("layer4.1.bn2.weight")
    path, _ = export_file("resnet18", 3, weights=weights)
    model = create_segmentation_model("unet", "tu-resnet18", 3, 2)
    with pytest.raises(UserError, match=r"missing 1 key\(s\) e\.g\. layer4\.1\.bn2\.weight.*"
                                        r"unexpected 1 key\(s\) e\.g\. module\.layer4\.1\.bn2\.weight"):
        load_export_into_encoder(model, "tu-resnet18", path)


def test_backbone_that_does_not_cover_the_encoder_names_encoder_keys_and_shapes():
    """Bypassing the architecture check: resnet18 weights cannot fill a resnet34 encoder."""
    model = create_segmentation_model("unet", "tu-resnet34", 3, 2)
    with pytest.raises(UserError, match=r"does not fit the smp encoder tu-resnet34: encoder key\(s\) not in the "
                                        r"weights: \d+, e\.g\. layer1\.2\."):
        copy_backbone_into_encoder(model, create_backbone("resnet18", 3), "tu-resnet34", "resnet18 weights")
    wide = create_backbone("resnet50", 3)
    narrow = create_segmentation_model("unet", "tu-resnet18", 3, 2)
    with pytest.raises(UserError, match=r"shape mismatch conv1\.weight|shape mismatch layer1\.0\.conv1\.weight"):
        copy_backbone_into_encoder(narrow, wide, "tu-resnet18", "resnet50 weights")
