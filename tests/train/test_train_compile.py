"""train.compile: the optional torch.compile path of the training loop."""

import pytest

from byol_transfer.cli import main
from byol_transfer.train.checkpoint import load_checkpoint

TINY = ["--backbone", "byol_tiny_cnn", "--image-size", "16", "--batch-size", "8",
        "--set", "model.projector_hidden=32", "--set", "model.predictor_hidden=32",
        "--set", "data.num_workers=0", "--set", "optim.name=adamw", "--set", "optim.base_lr=0.01"]


@pytest.mark.slow
def test_compiled_training_step_trains_and_saves_plain_weights(capsys, image_folder, tmp_path):
    """train.compile=true: torch.compile wraps the step (compiling takes ~30 s on 2 cores); the checkpoint
    holds the uncompiled module's keys, so export and strict loading are unaffected."""
    code = main(["-q", "pretrain", "--config", "natural_rgb", "--data", str(image_folder(16, 3)),
                 "--out", str(tmp_path / "run"), *TINY, "--epochs", "1", "--set", "train.compile=true"])
    assert code == 0, capsys.readouterr().err
    keys = load_checkpoint(tmp_path / "run")["model"].keys()
    assert keys and not any("_orig_mod" in k for k in keys)
