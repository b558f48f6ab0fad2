"""Non-finite weights are never saved, exported or evaluated.

With an infinite learning rate the weights turn NaN in the first optimiser step, one step before the loss
shows it. The run must stop (exit 1) naming the tensor and the step, without writing a checkpoint; a
checkpoint it names as "last good" must hold finite tensors only; export and every weight loader refuse
a file holding NaN/inf, naming the tensor and the file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from byol_transfer.models.finite import first_non_finite, named_tensors
from byol_transfer.train.checkpoint import NonFiniteState, load_checkpoint, save_checkpoint
from byol_transfer.models.weights import sidecar_path
from tests.conftest import write_image_folder

from .conftest import assert_clean_error, snapshot, tiny_pretrain_args


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run_cli_module) -> dict[str, Path]:
    """A finished tiny run, its export, a labelled class folder and a segmentation folder."""
    root = tmp_path_factory.mktemp("training_reliability")
    data = write_image_folder(root / "images", 16, 3)
    result = run_cli_module(*tiny_pretrain_args(data, root / "run"))
    assert result.code == 0, result.err
    export = root / "byol.safetensors"
    assert run_cli_module("export", root / "run", "--out", export).code == 0
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / "labelled" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / "labelled" / cls / f"{i}.png")
    for sub in ("images", "masks"):
        (root / "seg" / sub).mkdir(parents=True)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "seg" / "images" / f"{i}.png")
        Image.fromarray((rng.random((32, 32)) > 0.5).astype(np.uint8)).save(root / "seg" / "masks" / f"{i}.png")
    return {"root": root, "data": data, "run": root / "run", "export": export}


@pytest.fixture(scope="module")
def run_cli_module():
    """``run_cli`` for module-scoped fixtures (captures nothing; results carry the exit code)."""
    import contextlib
    import io

    from byol_transfer.cli import main

    from .conftest import CliResult

    def run(*args):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["-q", *map(str, args)])
        return CliResult(int(code), "", err.getvalue())

    return run


def test_an_infinite_learning_rate_stops_at_the_first_step_without_saving(run_cli, image_folder, tmp_path):
    data = image_folder(16, 3)
    result = run_cli(*tiny_pretrain_args(data, tmp_path / "run", "--set", "optim.base_lr=.inf"))
    line = assert_clean_error(result, "training diverged", "became NaN or infinite in optimiser step 1",
                              "'online_encoder.", "not saved", "no checkpoint was written", code=1)
    assert "Traceback" not in line
    assert not (tmp_path / "run" / "last.ckpt").exists()
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_the_checkpoint_named_after_divergence_holds_only_finite_tensors(trained, tmp_path):
    from byol_transfer.train.loop import TrainingDiverged, pretrain
    from byol_transfer.train.run_config import resolve_config

    run = tmp_path / "run"
    shutil.copytree(trained["run"], run)
    good = load_checkpoint(run)
    state = load_checkpoint(run)
    cfg = resolve_config(state["config"], "checkpoint", {"optim.base_lr": float("inf")}, [])
    from byol_transfer.data.build import build_dataset

    dataset = build_dataset(trained["data"], 16)
    # the run is finished at step 2; a longer schedule with an infinite LR diverges in step 3
    cfg.train.epochs = 2
    with pytest.raises(TrainingDiverged, match=r"in optimiser step 3 .*last good checkpoint: .*last.ckpt \(step 2"):
        pretrain(cfg, dataset, run, resume=True, progress=False, allow_config_change=True)
    kept = load_checkpoint(run)
    assert kept["step"] == 2
    assert first_non_finite(named_tensors(kept["model"])) is None
    assert first_non_finite(named_tensors(kept["optimizer"])) is None
    for key, tensor in good["model"].items():
        assert torch.equal(tensor, kept["model"][key]), key


def test_save_checkpoint_refuses_nan_weights_and_inf_optimizer_state(tmp_path):
    path = tmp_path / "last.ckpt"
    with pytest.raises(NonFiniteState, match="'model.layer.weight'"):
        save_checkpoint(path, {"model": {"layer.weight": torch.tensor([1.0, float("nan")])}, "step": 1})
    with pytest.raises(NonFiniteState, match="'optimizer.state.0.exp_avg'"):
        save_checkpoint(path, {"model": {"w": torch.ones(2)},
                               "optimizer": {"state": {0: {"exp_avg": torch.tensor([float("inf")])}}}})
    assert list(tmp_path.iterdir()) == []  # neither the checkpoint nor a temp file


def test_first_non_finite_names_the_first_bad_float_tensor_and_ignores_integers():
    tensors = {"steps": torch.tensor([2**62]), "ok": torch.zeros(3), "bad": torch.tensor([0.0, -float("inf")]),
               "later": torch.tensor([float("nan")])}
    assert first_non_finite(named_tensors(tensors)) == "bad"
    assert first_non_finite(named_tensors({"ok": torch.zeros(3), "n": torch.arange(3)})) is None


def poison_checkpoint(run: Path, out: Path) -> tuple[Path, str]:
    state = load_checkpoint(run)
    key = next(k for k in state["model"] if k.startswith("online_encoder.") and k.endswith("weight"))
    state["model"][key] = torch.full_like(state["model"][key], float("nan"))
    torch.save(state, out)
    return out, key


def poison_export(export: Path, out: Path, suffix: str) -> tuple[Path, str]:
    weights = load_file(str(export))
    key = next(k for k in weights if k.endswith("weight"))
    weights[key] = weights[key].clone()
    weights[key].view(-1)[0] = float("inf")
    if suffix == ".safetensors":
        save_file(weights, str(out))
        shutil.copy(sidecar_path(export), sidecar_path(out))
    else:
        torch.save(weights, out)
    return out, key


def poison_segmentation_model(out: Path) -> tuple[Path, str]:
    """A model folder as ``segment`` writes it, with one decoder tensor set to NaN."""
    from byol_transfer.transfer.tasks.segmentation.smp import MODEL_FILE, create_segmentation_model, save_segmentation_model

    model = create_segmentation_model("unet", "tu-resnet18", 3, 2)
    key = next(k for k in model.state_dict() if k.startswith("decoder.") and k.endswith("weight"))
    with torch.no_grad():
        model.state_dict()[key].fill_(float("nan"))
    save_segmentation_model(out, model, {
        "arch": "unet", "encoder": "tu-resnet18", "in_chans": 3, "classes": ["background", "object"],
        "scaling": {"kind": "auto"}, "normalize": {"mean": [0.5] * 3, "std": [0.25] * 3}, "tile_size": 32})
    return out / MODEL_FILE, key


LOADERS = {
    "export": lambda t, bad: ["export", bad, "--out", t["root"] / "x" / "never.safetensors"],
    "label-efficiency export": lambda t, bad: [
        "label-efficiency", "--data", t["root"] / "labelled", "--backbone", f"byol={bad}", "--evaluators", "knn",
        "--fractions", "1.0", "--seeds", "1", "--no-progress", "--out", t["root"] / "x" / "le"],
    "label-efficiency .pth": lambda t, bad: [
        "label-efficiency", "--data", t["root"] / "labelled", "--backbone", f"local={bad}", "--arch",
        "byol_tiny_cnn", "--recipe", "natural_rgb", "--evaluators", "knn", "--fractions", "1.0", "--seeds", "1",
        "--no-progress", "--out", t["root"] / "x" / "le"],
    "predict model": lambda t, bad: [
        "predict", "--model", bad.parent, "--data", t["root"] / "seg" / "images", "--no-progress",
        "--out", t["root"] / "x" / "masks"],
    "segment export": lambda t, bad: [
        "segment", "--data", t["root"] / "seg", "--backbone", f"byol={bad}", "--encoder", "resnet18",
        "--epochs", "1", "--no-progress", "--out", t["root"] / "x" / "seg"],
}


@pytest.mark.parametrize("loader", list(LOADERS))
def test_export_and_evaluation_refuse_weights_holding_nan_or_inf(run_cli, trained, tmp_path, loader):
    if loader == "export":
        bad, key = poison_checkpoint(trained["run"], tmp_path / "diverged.ckpt")
    elif loader == "predict model":
        bad, key = poison_segmentation_model(tmp_path / "model")
    else:
        suffix = ".pth" if loader.endswith(".pth") else ".safetensors"
        bad, key = poison_export(trained["export"], tmp_path / f"diverged{suffix}", suffix)
    before = snapshot(trained["root"])
    result = run_cli(*LOADERS[loader](trained, bad))
    assert_clean_error(result, str(bad), repr(key).strip("'"), "NaN or infinite values")
    assert snapshot(trained["root"]) == before  # no export, no report folder, no feature cache
