import json

import pytest
import timm
import torch
from safetensors.torch import save_file

from byol_transfer.errors import UserError
from byol_transfer.transfer.inits import build_inits, parse_backbone_specs
from byol_transfer.models.weights import read_export


def test_backbone_specs_are_parsed_and_names_must_be_unique():
    assert parse_backbone_specs(["byol=runs/a.safetensors", "random", "x/b.pth"]) == [
        ("byol", "runs/a.safetensors"), ("random", "random"), ("b", "x/b.pth")]
    with pytest.raises(UserError, match="used twice"):
        parse_backbone_specs(["a=random", "a=x.safetensors"])


def test_export_and_random_init_share_architecture_and_normalisation(tiny_export):
    byol, rand = build_inits([f"BYOL={tiny_export}", "random=random"], in_chans=1)
    weights, meta = read_export(tiny_export)
    assert all(torch.equal(byol.backbone.state_dict()[k], v) for k, v in weights.items())
    assert rand.architecture == byol.architecture == meta["architecture"]
    assert torch.equal(rand.transform.normalize.mean, byol.transform.normalize.mean)
    assert rand.recipe == "grayscale" and rand.weights_hash != byol.weights_hash
    # random init is one fixed draw, so its features can be cached
    assert build_inits(["random"], 1, arch="byol_tiny_cnn", recipe="grayscale")[0].weights_hash == rand.weights_hash


def test_export_for_other_channel_count_without_band_names_is_a_clear_error(tiny_export):
    with pytest.raises(UserError, match=r"BYOL=.*the weights take 1 band\(s\) \(no names\), the data have 3 band\(s\) "
                                        r"\(no names\).*--band-map"):
        build_inits([f"BYOL={tiny_export}"], in_chans=3)


def test_weights_without_sidecar_for_other_channel_count_is_a_clear_error(tmp_path):
    model = timm.create_model("byol_tiny_cnn", num_classes=0, in_chans=3)
    save_file(model.state_dict(), str(tmp_path / "rgb.safetensors"))
    with pytest.raises(UserError, match=r"stem\.0\.weight: the weights take 3 band\(s\) \(no names\), the data have 1 "):
        build_inits([f"x={tmp_path / 'rgb.safetensors'}"], in_chans=1, arch="byol_tiny_cnn", recipe="grayscale")


def test_local_timm_classifier_checkpoint_loads_strictly_without_its_head(tmp_path):
    model = timm.create_model("resnet18", num_classes=10, in_chans=1)
    torch.save(model.state_dict(), tmp_path / "resnet18_local.pth")
    (init,) = build_inits([f"local={tmp_path / 'resnet18_local.pth'}"], 1, arch="resnet18", recipe="grayscale")
    own = init.backbone.state_dict()
    assert "fc.weight" not in own
    assert all(torch.equal(own[k], v) for k, v in model.state_dict().items() if not k.startswith("fc."))


def test_random_init_needs_an_architecture_and_a_recipe():
    with pytest.raises(UserError, match="--arch"):
        build_inits(["random"], 1, recipe="grayscale")
    with pytest.raises(UserError, match="--recipe"):
        build_inits(["random"], 1, arch="byol_tiny_cnn")
    with pytest.raises(UserError, match="accepts 3 channel"):
        build_inits(["random"], 1, arch="byol_tiny_cnn", recipe="natural_rgb")


def test_sidecar_and_weights_disagreeing_is_refused(tiny_export, tmp_path):
    weights, meta = read_export(tiny_export)
    save_file(weights, str(tmp_path / "b.safetensors"))
    (tmp_path / "b.safetensors.json").write_text(json.dumps({**meta, "architecture": "resnet18"}))
    with pytest.raises(UserError, match="does not fit the model"):
        build_inits([f"b={tmp_path / 'b.safetensors'}"], 1)
