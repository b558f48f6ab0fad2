import pytest

from byol_transfer.config import PretrainConfig, apply_overrides, from_dict, read_yaml
from byol_transfer.errors import UserError
from byol_transfer.train.run_config import config_source, resolve_config


def test_recipe_name_gives_defaults_for_everything_else():
    base, where = config_source("natural_rgb")
    cfg = resolve_config(base, where, {}, [])
    assert cfg.recipe.name == "natural_rgb"
    assert cfg.model.projector_hidden == 4096 and cfg.model.projector_out == 256
    assert cfg.ema.base_tau == 0.996 and cfg.optim.name == "lars"
    assert where.endswith("recipes/natural_rgb.yaml")


def test_unknown_key_names_the_key_and_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("recipe: natural_rgb\noptim:\n  lrr: 0.1\n")
    base, where = config_source(str(path))
    with pytest.raises(UserError, match=r"run.yaml: unknown key 'optim.lrr'"):
        resolve_config(base, where, {}, [])


def test_unknown_key_in_a_recipe_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nchannels: {count: 3}\nview1: []\nview2: []\nviews: []\n")
    with pytest.raises(UserError, match=r"mine.yaml: unknown key 'views'"):
        config_source(str(path))


def test_set_overrides_are_typed_and_checked():
    base, where = config_source("natural_rgb")
    cfg = resolve_config(base, where, {}, ["optim.base_lr=0.3", "train.precision=bf16", "recipe.view2.5.p=0.5"])
    assert cfg.optim.base_lr == 0.3 and cfg.train.precision == "bf16"
    # YAML 1.1 reads 2e-3 as a string; a float field still takes it
    assert resolve_config(config_source("natural_rgb")[0], where, {}, ["optim.base_lr=2e-3"]).optim.base_lr == 0.002
    assert cfg.recipe.view2[5] == {"op": "solarize", "p": 0.5}
    with pytest.raises(UserError, match="'train.epochs' must be an integer, got 'many'"):
        resolve_config(config_source("natural_rgb")[0], where, {}, ["train.epochs=many"])
    with pytest.raises(UserError, match="bad value 'fp8' for 'train.precision'"):
        resolve_config(config_source("natural_rgb")[0], where, {}, ["train.precision=fp8"])
    with pytest.raises(UserError, match="expected key=value"):
        apply_overrides({}, ["optim.base_lr"])
    with pytest.raises(UserError, match="not an index"):
        apply_overrides({"a": [1]}, ["a.3=2"])


def test_flags_override_the_file():
    base, where = config_source("natural_rgb")
    cfg = resolve_config(base, where, {"model.backbone": "resnet50", "data.batch_size": None}, [])
    assert cfg.model.backbone == "resnet50" and cfg.data.batch_size == 256


def test_missing_required_key_and_bad_yaml(tmp_path):
    with pytest.raises(UserError, match="missing required key 'recipe'"):
        from_dict(PretrainConfig, {}, "x.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(UserError, match="bad.yaml: not valid YAML"):
        read_yaml(bad)
    with pytest.raises(UserError, match="unknown recipe 'nope'"):
        config_source("nope")
