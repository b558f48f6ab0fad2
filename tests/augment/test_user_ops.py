"""An op from the user's own module: a recipe lists the module under ``plugins`` and names the op.

The module is written to a temporary folder put on ``sys.path``, as a user's project would be. Its op goes
through the checks built-in ops go through, and a module or op that breaks the contract is refused when the
recipe is loaded, in one line naming the op and the module.
"""

from __future__ import annotations

import importlib
import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from byol_transfer.augment.ops import OPS, build_op
from byol_transfer.augment.ops._contract import built_problem
from byol_transfer.augment.recipes import build_two_views, load_recipe
from byol_transfer.cli import main
from byol_transfer.errors import UserError

REPO = Path(__file__).resolve().parents[2]

# The example of docs/recipes.md, "Adding your own augmentation op" (checked verbatim below).
EXAMPLE = '''\
# my_ops.py: a per-sample random gain, an op recipes can name once they list this module as a plugin
import torch
from kornia.augmentation import IntensityAugmentationBase2D

from byol_transfer.augment.ops import register_op


class RandomGain(IntensityAugmentationBase2D):
    """x · g, one gain g ~ U[low, high] per sample (each sample with probability p)."""

    def __init__(self, low: float, high: float, p: float) -> None:
        super().__init__(p=p)
        self.low, self.high = low, high

    def generate_parameters(self, batch_shape):
        # one value per sample, from torch's global generator: torch.manual_seed reproduces the views
        return {"gain": torch.empty(batch_shape[0]).uniform_(self.low, self.high)}

    def apply_transform(self, input, params, flags, transform=None):
        return input * params["gain"].to(input).view(-1, 1, 1, 1)


@register_op("random_gain", channels="any", needs_unit_range=False)
def random_gain(image_size: int, in_chans: int, p: float = 0.5, strength: float = 0.2) -> RandomGain:
    """Multiply each sample by one random gain in [1 - strength, 1 + strength]."""
    if not 0 <= strength < 1:
        raise ValueError(f"strength must lie in [0, 1), got {strength}")
    return RandomGain(1 - strength, 1 + strength, p=p)
'''

RECIPE = {
    "name": "rgb_with_gain",
    "description": "natural_rgb's crop and flip plus a user op",
    "plugins": ["my_ops"],
    "channels": {"count": 3, "rgb": True},
    "normalize": {"mean": [0.5], "std": [0.25]},
    "view1": [{"op": "random_resized_crop"}, {"op": "horizontal_flip"}, {"op": "random_gain", "p": 0.8}],
    "view2": [{"op": "random_resized_crop"}, {"op": "random_gain", "p": 0.8, "strength": 0.4}],
}


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """Factory: ``user_module(name, text)`` writes ``name.py`` into a folder on ``sys.path``.

    The op registry is restored afterwards and the module forgotten, so tests do not see each other's ops.
    """
    folder = tmp_path / "user_code"
    folder.mkdir()
    monkeypatch.setattr(OPS, "_items", dict(OPS._items))
    names = []

    def write(name: str, text: str) -> str:
        (folder / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
        names.append(name)
        return name

    monkeypatch.syspath_prepend(str(folder))
    yield write
    for name in names:
        sys.modules.pop(name, None)


def write_recipe(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**RECIPE, **changes}, sort_keys=False), encoding="utf-8")
    return path


def test_the_docs_show_this_example_verbatim():
    docs = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert EXAMPLE in docs
    recipe_block = docs.split("# rgb_with_gain.yaml")[1].split("\n", 1)[1].split("```")[0]
    assert yaml.safe_load(recipe_block) == RECIPE


def test_a_recipe_names_an_op_from_the_users_module(user_module, tmp_path):
    user_module("my_ops", EXAMPLE)
    assert "random_gain" not in OPS  # nothing registers it until a recipe lists the module
    recipe = load_recipe(write_recipe(tmp_path))
    info = OPS.get("random_gain")
    assert info.module == "my_ops" and info.description.startswith("Multiply each sample")
    views = build_two_views(recipe, 16, 3)
    gain_class = sys.modules["my_ops"].RandomGain
    assert any(isinstance(m, gain_class) for m in views.view1.modules())
    assert any(isinstance(m, gain_class) for m in views.view2.modules())
    x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    one, two = views(x)
    assert one.shape == two.shape == (4, 3, 16, 16)


def test_the_user_op_is_applied_per_sample_within_its_declared_range(user_module, tmp_path):
    user_module("my_ops", EXAMPLE)
    load_recipe(write_recipe(tmp_path))
    x = torch.rand(32, 3, 8, 8) + 0.5  # no zeros: the gain is out / in

    def gains(p: float) -> torch.Tensor:
        op = build_op({"op": "random_gain", "p": p, "strength": 0.3}, image_size=8, in_chans=3, rgb=True,
                      unit_range=True, where="test.yaml")
        ratio = op(x) / x
        per_sample = ratio.flatten(1)
        # one gain per sample: the same factor on every pixel and band of a sample
        assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), rtol=1e-5)
        return per_sample[:, 0]

    always = gains(1.0)
    assert always.min() >= 0.7 - 1e-6 and always.max() <= 1.3 + 1e-6
    assert len(set(always.tolist())) == len(always)  # drawn per sample, not once per batch
    sometimes = gains(0.5)
    untouched = sometimes == 1.0
    assert 0 < untouched.sum() < len(sometimes)  # the probability gates each sample on its own


def test_the_user_op_goes_through_the_built_in_checks(user_module, tmp_path):
    user_module("my_ops", EXAMPLE)
    bad = [
        ({"op": "random_gain", "p": 1.5}, "op 'random_gain': 'p' \\(a probability\\)"),
        ({"op": "random_gain", "gain": 2}, "op 'random_gain' has no parameter 'gain' \\(allowed: p, strength\\)"),
        ({"op": "random_gain", "strength": "big"}, "op 'random_gain': 'strength' must be a number"),
        ({"op": "random_gain", "strength": 1.5}, "op 'random_gain': strength must lie in \\[0, 1\\)"),
    ]
    for spec, message in bad:
        with pytest.raises(UserError, match=f"recipe.yaml: view1\\[0\\]: {message}"):
            load_recipe(write_recipe(tmp_path, view1=[spec]))


RGB_UNIT_OP = '''\
import kornia.augmentation as K
from byol_transfer.augment.ops import register_op

@register_op("invert_rgb", channels="rgb", needs_unit_range=True)
def invert_rgb(image_size: int, in_chans: int, p: float = 0.5):
    """1 - x (values in [0, 1])."""
    return K.RandomInvert(p=p)
'''


def test_a_user_ops_declared_channels_and_unit_range_are_enforced(user_module, tmp_path):
    user_module("rgb_ops", RGB_UNIT_OP)
    only = {"plugins": ["rgb_ops"], "view2": [{"op": "invert_rgb", "p": 1.0}]}
    recipe = load_recipe(write_recipe(tmp_path, **only, view1=[{"op": "invert_rgb", "p": 1.0}]))
    build_two_views(recipe, 16, 3)  # RGB uint8 scaled to [0, 1]: accepted
    with pytest.raises(UserError, match="op 'invert_rgb' assumes values in \\[0, 1\\]"):
        build_two_views(recipe, 16, 3, torch.float32)  # auto scaling leaves floats unscaled
    four = load_recipe(write_recipe(tmp_path, **only, channels={"count": 4}, view1=[{"op": "invert_rgb"}]))
    with pytest.raises(UserError, match="op 'invert_rgb' needs 3-channel RGB data, but the data have 4"):
        build_two_views(four, 16, 4)


def _op_module(decorator: str, body: str = "return K.RandomInvert(p=p)", signature: str = "p: float = 0.5",
               extra: str = "") -> str:
    return (f"import kornia.augmentation as K\nimport torch\nfrom torch import nn\n"
            f"from byol_transfer.augment.ops import register_op\n"
            f"from byol_transfer.augment.ops._selected import SelectedSamples\n{extra}\n"
            f"@{decorator}\ndef build(image_size: int, in_chans: int, {signature}):\n    {body}\n")


GATED_GAIN = '''
class GatedGain(SelectedSamples, K.IntensityAugmentationBase2D):
    per_sample_params = {declared}
    def generate_parameters(self, batch_shape):
        return {{"gain": torch.rand(batch_shape[0]) + 0.5}}
    def apply_transform(self, input, params, flags, transform=None):
        return input * params["gain"].to(input).view(-1, 1, 1, 1)
'''


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (None, "plugins: cannot import module 'bad_ops': it is not installed or not on the Python path"),
        ("import not_installed_dependency\n",
         "plugins: importing module 'bad_ops' failed: No module named 'not_installed_dependency'"),
        ("raise RuntimeError('no GPU\\nhere')\n",
         "plugins: importing module 'bad_ops' failed: RuntimeError: no GPU here"),
        (_op_module('register_op("bad_op", channels="RGB")'),
         "augmentation op 'bad_op' \\(module bad_ops\\): channels must be one of 'any', 'rgb', 'single', got 'RGB'"),
        (_op_module('register_op("bad_op", needs_unit_range="yes")'),
         "augmentation op 'bad_op' \\(module bad_ops\\): needs_unit_range must be true or false, got 'yes'"),
        (_op_module('register_op("bad_op")', signature="strength: float = 0.1"),
         "augmentation op 'bad_op' \\(module bad_ops\\): the builder build\\(\\) must take image_size, in_chans, "
         "p as keyword arguments \\(missing 'p'\\)"),
        (_op_module('register_op("bad_op")', signature="p: float = 2.0"),
         "augmentation op 'bad_op' \\(module bad_ops\\): the builder's default 'p' must be a probability in "
         "\\[0, 1\\], got 2.0"),
        (_op_module('register_op("solarize")'),
         "augmentation op 'solarize' \\(module bad_ops\\): the name is taken by the op in "
         "byol_transfer.augment.ops.solarize; choose another name"),
        (_op_module('register_op("bad_op")', body="return nn.Identity()"),
         "view1\\[0\\]: op 'bad_op' \\(module bad_ops\\): the builder returned Identity, not a Kornia 2-D augmentation"),
        (_op_module('register_op("bad_op")', body="return GatedGain(p=p)", extra=GATED_GAIN.format(declared="()")),
         "view1\\[0\\]: op 'bad_op' \\(module bad_ops\\): generate_parameters draws gain per sample, but "
         "per_sample_params \\(\\) does not list it"),
        (_op_module('register_op("bad_op")', body="return GatedGain(p=p)",
                    extra=GATED_GAIN.format(declared='("gain", "shift")')),
         "view1\\[0\\]: op 'bad_op' \\(module bad_ops\\): per_sample_params lists shift, which "
         "generate_parameters does not return with one row per sample"),
    ],
    ids=["not-importable", "missing-dependency", "module-raises", "channels", "unit-range-flag", "no-p",
         "default-p", "name-taken", "not-kornia", "undeclared-per-sample", "declared-not-drawn"],
)
def test_a_broken_plugin_is_refused_at_recipe_load_in_one_line(user_module, tmp_path, module, message):
    if module is not None:
        user_module("bad_ops", module)
    path = write_recipe(tmp_path, plugins=["bad_ops"], view1=[{"op": "bad_op"}])
    with pytest.raises(UserError) as caught:
        load_recipe(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: ")
    assert re.search(message, text), text


def test_an_op_name_not_found_says_where_user_ops_come_from(user_module, tmp_path):
    user_module("my_ops", EXAMPLE)
    with pytest.raises(UserError, match="view1\\[2\\]: unknown op 'random_gain'; .* list its module under plugins:"):
        load_recipe(write_recipe(tmp_path, plugins=[]))  # the module is not listed, so never imported
    with pytest.raises(UserError, match="unknown op 'random_gian'; known ops: .*random_gain"):
        load_recipe(write_recipe(tmp_path, view1=[{"op": "random_gian"}]))


def test_reloading_the_users_module_replaces_its_ops(user_module, tmp_path):
    user_module("my_ops", EXAMPLE)
    load_recipe(write_recipe(tmp_path))
    first = OPS.get("random_gain").build
    importlib.reload(sys.modules["my_ops"])  # how an op is developed in a notebook: edit, reload, look
    assert OPS.get("random_gain").build is not first
    assert OPS.get("random_gain").build is sys.modules["my_ops"].random_gain


def test_a_recipe_must_list_the_module_of_every_user_op_it_names(user_module, tmp_path):
    user_module("my_ops", EXAMPLE)
    load_recipe(write_recipe(tmp_path))  # imports my_ops: random_gain is now registered in this process
    # ... but a recipe that forgot the plugin would fail in a fresh process: refused here too
    with pytest.raises(UserError, match="view1\\[2\\]: op 'random_gain' comes from module my_ops, which this "
                                        "recipe does not list under plugins: add it \\(plugins: \\[my_ops\\]\\)"):
        load_recipe(write_recipe(tmp_path, plugins=[]))


def test_every_built_in_op_keeps_the_contract_user_ops_are_held_to():
    required = {"ct_window": {"center": 40.0, "width": 400.0}}
    for name in OPS.names():
        info = OPS.get(name)
        channels = {"single": 1, "rgb": 3}.get(info.channels, 13)
        op = info.build(image_size=32, in_chans=channels, **required.get(name, {}))
        assert built_problem(op, 32, channels) is None, name


def test_pretrain_runs_a_recipe_with_a_user_op(user_module, tmp_path, image_folder, capsys, monkeypatch,
                                               one_torch_thread):
    user_module("my_ops", EXAMPLE)
    path = write_recipe(tmp_path)
    calls = []
    import my_ops  # the recipe would import it; imported here first to count the op's calls

    original = my_ops.RandomGain.apply_transform
    monkeypatch.setattr(my_ops.RandomGain, "apply_transform",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    code = main(["-q", "pretrain", "--config", str(path), "--data", str(image_folder(16, 3)),
                 "--out", str(tmp_path / "run"), "--backbone", "byol_tiny_cnn", "--image-size", "16",
                 "--batch-size", "8", "--max-steps", "2", "--set", "model.projector_hidden=32",
                 "--set", "model.predictor_hidden=32", "--set", "data.num_workers=0",
                 "--set", "optim.name=adamw"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "pretrained 2 steps" in out
    assert len(calls) >= 4  # two views × two steps
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert recorded["recipe"]["plugins"] == ["my_ops"]  # a resumed run imports the module again
