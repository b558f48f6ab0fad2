"""pretrain --init: start both encoders from weights one has, across band counts, and record where from."""

import hashlib
import json
from pathlib import Path

import pytest
import timm
import torch
import yaml
from safetensors.torch import load_file

from byol_transfer.cli import main
from byol_transfer.train.checkpoint import load_checkpoint
from tests.conftest import write_image_folder

S2 = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11", "B12", "B8A"]
TINY = ["--backbone", "byol_tiny_cnn", "--image-size", "16", "--batch-size", "8",
        "--set", "model.projector_hidden=32", "--set", "model.predictor_hidden=32",
        "--set", "data.num_workers=0", "--set", "optim.name=adamw", "--set", "optim.base_lr=0.01"]
MS = ["--config", "satellite_multispectral", "--card", "eurosat_ms"]


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["-q", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """An RGB export whose sidecar names its bands (PNGs read with the eurosat_rgb card), one without
    names (no card), and a folder of 13-band GeoTIFFs."""
    root = tmp_path_factory.mktemp("init")
    rgb = write_image_folder(root / "rgb", 16, 3)
    for name, card in (("named", ["--card", "eurosat_rgb"]), ("unnamed", [])):
        assert main(["-q", "pretrain", "--config", "natural_rgb", "--data", str(rgb), *card, "--out",
                     str(root / name), "--epochs", "1", *TINY]) == 0
        assert main(["-q", "export", str(root / name), "--out", str(root / f"{name}.safetensors")]) == 0
    return {"named": root / "named.safetensors", "unnamed": root / "unnamed.safetensors",
            "ms": write_image_folder(root / "ms", 16, 13)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_init_from_an_rgb_export_into_13_bands(capsys, made, tmp_path):
    source = load_file(str(made["named"]))
    assert json.loads(Path(f"{made['named']}.json").read_text())["band_names"] == ["red", "green", "blue"]
    # one step at a learning rate too small to move a float32 weight: the parameters are still the init's
    code, out, err = cli(capsys, "pretrain", *MS, "--data", made["ms"], "--out", tmp_path / "run",
                         "--init", made["named"], "--max-steps", "1", *TINY, "--set", "optim.base_lr=1e-30")
    assert code == 0, err
    assert "pretrained 1 steps" in out
    state = load_checkpoint(tmp_path / "run")
    model = state["model"]
    key = "stem.0.weight"
    scale = 3 / 13  # source bands / target bands
    for prefix in ("online_encoder.", "target_encoder."):  # the target is a copy of the initialised online net
        kernel = model[prefix + key]
        assert kernel.shape[1] == 13
        for band, channel in {"B04": 0, "B03": 1, "B02": 2}.items():
            assert torch.allclose(kernel[:, S2.index(band)], source[key][:, channel] * scale, atol=1e-7), band
        for band in set(S2) - {"B04", "B03", "B02"}:
            assert torch.allclose(kernel[:, S2.index(band)], source[key].mean(dim=1) * scale, atol=1e-7), band
        params = dict(timm.create_model("byol_tiny_cnn", num_classes=0, in_chans=13).named_parameters())
        for name in params:
            if name != key:
                assert torch.allclose(model[prefix + name], source[name], atol=1e-7), prefix + name
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]
    assert recorded["init"] == str(made["named"]) and recorded["init_sha256"] == sha256(made["named"])
    assert recorded["init_band_mapping"].startswith("B01=mean,B02=blue,B03=green,B04=red,B05=mean")
    assert cli(capsys, "export", tmp_path / "run", "--out", tmp_path / "ms.safetensors")[0] == 0
    meta = json.loads((tmp_path / "ms.safetensors.json").read_text())
    assert meta["init"] == {"path": str(made["named"]), "sha256": sha256(made["named"])}
    assert meta["band_mapping"] == recorded["init_band_mapping"]
    assert meta["band_names"] == S2 and meta["in_chans"] == 13


def test_an_unnamed_export_into_13_bands_is_a_one_line_error_naming_both(capsys, made, tmp_path):
    code, out, err = cli(capsys, "pretrain", *MS, "--data", made["ms"], "--out", tmp_path / "run",
                         "--init", made["unnamed"], "--max-steps", "1", *TINY)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "3 band(s) (no names)" in lines[0] and "13 band(s) (B01, B02, B03" in lines[0]
    assert "--band-map" in lines[0]


def test_a_band_map_rule_makes_the_unnamed_export_fit(capsys, made, tmp_path):
    code, _, err = cli(capsys, "pretrain", *MS, "--data", made["ms"], "--out", tmp_path / "run",
                       "--init", made["unnamed"], "--band-map", "repeat", "--max-steps", "1", *TINY)
    assert code == 0, err
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]
    assert recorded["band_map"] == "repeat" and recorded["init_band_mapping"].startswith("B01=1,B02=2,B03=3,B04=1")


def test_a_pth_state_dict_with_a_classifier_works_and_its_hash_is_recorded(capsys, made, tmp_path):
    weights = load_file(str(made["unnamed"]))  # 3 bands, same architecture; saved the PyTorch way
    path = tmp_path / "rgb.pth"
    torch.save(weights, path)
    code, out, err = cli(capsys, "pretrain", "--config", "natural_rgb", "--data", made["ms"].parent / "rgb",
                         "--out", tmp_path / "run", "--init", path, "--max-steps", "1", *TINY,
                         "--set", "optim.base_lr=1e-30")
    assert code == 0, err
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]
    assert recorded["init_sha256"] == sha256(path) and recorded["init_band_mapping"] is None  # 3 → 3: as is
    online = load_checkpoint(tmp_path / "run")["model"]
    assert torch.allclose(online["online_encoder.stem.0.weight"], weights["stem.0.weight"], atol=1e-7)


def test_resume_keeps_the_checkpoint_weights_and_refuses_another_init(capsys, made, tmp_path):
    init = tmp_path / "init.safetensors"
    init.write_bytes(made["named"].read_bytes())
    Path(f"{init}.json").write_text(Path(f"{made['named']}.json").read_text())
    args = ["pretrain", *MS, "--data", made["ms"], "--out", tmp_path / "run", "--init", init, "--epochs", "2", *TINY]
    assert cli(capsys, *args, "--stop-after-steps", "1")[0] == 0
    code, _, err = cli(capsys, "pretrain", "--out", tmp_path / "run", "--resume", "--init", made["unnamed"])
    assert code == 2 and "init weights" in err
    init.unlink()  # the checkpoint's weights win: the init file is not read again
    code, out, err = cli(capsys, "pretrain", "--out", tmp_path / "run", "--resume")
    assert code == 0, err
    assert "pretrained 4 steps" in out


def test_a_changed_init_file_is_refused_when_a_config_records_its_hash(capsys, made, tmp_path):
    code, _, err = cli(capsys, "pretrain", *MS, "--data", made["ms"], "--out", tmp_path / "run", "--init",
                       made["named"], "--max-steps", "1", *TINY, "--set", "model.init_sha256=" + "f" * 64)
    assert code == 2 and "records sha256 fff" in err and sha256(made["named"]) in err


def test_a_timm_classifier_safetensors_without_sidecar_loads_minus_its_head(tmp_path):
    from safetensors.torch import save_file
    from timm.models import adapt_input_conv

    from byol_transfer.models.backbones import create_backbone
    from byol_transfer.models.weights import init_from_weights

    torch.manual_seed(1)
    classifier = timm.create_model("resnet18", pretrained=False, num_classes=10, in_chans=3).state_dict()
    path = tmp_path / "resnet18.safetensors"  # no sidecar: no band names, so a rule is needed
    save_file({k: v.contiguous() for k, v in classifier.items()}, str(path))
    backbone = create_backbone("resnet18", 13)
    record = init_from_weights(backbone, path, "resnet18", S2, "repeat")
    own = backbone.state_dict()
    assert torch.equal(own["conv1.weight"], adapt_input_conv(13, classifier["conv1.weight"].clone(), 3))
    assert all(torch.equal(own[k], classifier[k]) for k in own if k != "conv1.weight")
    assert record.sha256 == sha256(path) and record.band_mapping["B8A"] == "1"


def test_band_map_without_init_is_refused(capsys, made, tmp_path):
    code, _, err = cli(capsys, "pretrain", *MS, "--data", made["ms"], "--out", tmp_path / "run",
                       "--band-map", "repeat", *TINY)
    assert code == 2 and "--band-map needs --init" in err
