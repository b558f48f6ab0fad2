import json

import pytest
import timm
import torch
from safetensors.torch import load_file, save_file

from byol_transfer.data.datasets.image_folder import ImageFolderDataset
from byol_transfer.errors import UserError
from byol_transfer.train.checkpoint import load_checkpoint
from byol_transfer.models.weights import load_backbone, load_strict
from byol_transfer.train.export import export_backbone
from byol_transfer.train.loop import pretrain

from .test_train_loop import tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tests.conftest import write_image_folder

    root = tmp_path_factory.mktemp("export")
    data = ImageFolderDataset(write_image_folder(root / "images", 16, 3), 16)
    pretrain(tiny_config(**{"train.epochs": 1}), data, root / "run", progress=False)
    return root / "run"


def test_export_loads_strictly_into_timm_and_weights_are_equal(run_dir, tmp_path):
    out, meta = export_backbone(run_dir, tmp_path / "backbone.safetensors")
    weights = load_file(str(out))
    model = timm.create_model(meta["architecture"], num_classes=0, in_chans=meta["in_chans"])
    model.load_state_dict(weights, strict=True)
    online = load_checkpoint(run_dir)["model"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, online[f"online_encoder.{key}"]), key
        # the export is the online encoder, not the EMA target
    differs = [k for k in weights if not torch.equal(online[f"online_encoder.{k}"], online[f"target_encoder.{k}"])]
    assert differs, "online and target encoders should differ after training"


def test_sidecar_describes_the_export(run_dir, tmp_path):
    out, _ = export_backbone(run_dir, tmp_path / "b.safetensors")
    meta = json.loads(out.with_name("b.safetensors.json").read_text())
    assert meta["architecture"] == "byol_tiny_cnn" and meta["in_chans"] == 3
    assert meta["recipe"] == "natural_rgb" and meta["training_steps"] == 2
    assert meta["normalize"]["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_load_backbone_verifies_and_refuses_mismatches(run_dir, tmp_path):
    out, _ = export_backbone(run_dir, tmp_path / "b.safetensors")
    backbone = load_backbone(out)
    assert backbone(torch.randn(2, 3, 16, 16)).shape == (2, backbone.num_features)
    with pytest.raises(UserError, match="requested byol_tiny_cnn with 4"):
        load_backbone(out, in_chans=4)


def test_strict_load_names_missing_and_misshaped_keys(tmp_path):
    model = timm.create_model("byol_tiny_cnn", num_classes=0, in_chans=3)
    weights = {f"encoder.{k}": v for k, v in model.state_dict().items()}  # wrong module level
    with pytest.raises(UserError, match="missing .* key"):
        load_strict(model, weights, "w.safetensors")
    other = timm.create_model("byol_tiny_cnn", num_classes=0, in_chans=13).state_dict()
    with pytest.raises(UserError, match=r"shape mismatch stem.0.weight: \(32, 13, 3, 3\) vs \(32, 3, 3, 3\)"):
        load_strict(model, other, "w.safetensors")


def test_export_refuses_a_non_safetensors_name_and_missing_run(run_dir, tmp_path):
    with pytest.raises(UserError, match="must be a .safetensors file"):
        export_backbone(run_dir, tmp_path / "b.pt")
    with pytest.raises(UserError, match="checkpoint not found"):
        export_backbone(tmp_path / "nope", tmp_path / "b.safetensors")
    assert not (tmp_path / "b.safetensors").exists()


def test_checkpoint_is_refused_when_it_is_not_ours(tmp_path):
    save_file({"x": torch.zeros(1)}, str(tmp_path / "x.safetensors"))
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="not a readable byol-transfer checkpoint"):
        load_checkpoint(tmp_path / "bad.ckpt")
