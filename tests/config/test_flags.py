"""Flags generated from a flag → key table: types, bounds, defaults and switches come from the schema field."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Literal, Union

import pytest
import yaml

from byol_transfer.config import bounded
from byol_transfer.config.flags import Flag, add_flags, flag_values
from byol_transfer.config.resolve import resolve, write_resolved
from byol_transfer.errors import UserError


@dataclass
class Inner:
    epochs: int = bounded(30, ge=1)
    lr: float = bounded(0.01, gt=0)


@dataclass
class Schema:
    path: str = ""
    mode: Literal["fast", "slow"] = "fast"
    fractions: list[float] = bounded(default_factory=lambda: [0.1, 1.0], gt=0, le=1)
    names: list[str] = field(default_factory=list)
    plot: bool = True
    cap: Union[int, None] = bounded(None, ge=1)
    inner: Inner = field(default_factory=Inner)


FLAGS = [
    Flag("--path", "path", "where", required=True),
    Flag("--mode", "mode", "how"),
    Flag("--fractions", "fractions", "shares"),
    Flag("--name", "names", "repeatable", repeat=True),
    Flag("--no-plot", "plot", "no plot", sets_to=False),
    Flag("--cap", "cap", "a cap"),
    Flag("--epochs", "inner.epochs", "epochs"),
    Flag("items", "names", "positional items"),
]


class Refused(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # noqa: ANN001, ANN201
        raise Refused(message)


def parse(*argv: str, flags=FLAGS) -> argparse.Namespace:  # noqa: ANN001
    parser = Parser(prog="t")
    add_flags(parser, Schema, flags)
    return parser.parse_args(list(argv))


def test_left_out_flags_set_nothing_so_the_schema_default_stands():
    args = parse("--path", "p")
    assert flag_values(args, FLAGS) == {"path": "p"}
    cfg = resolve(Schema, args, FLAGS)
    assert (cfg.mode, cfg.fractions, cfg.plot, cfg.cap, cfg.inner.epochs) == ("fast", [0.1, 1.0], True, None, 30)


def test_types_lists_choices_and_nested_keys_come_from_the_schema():
    args = parse("--path", "p", "--mode", "slow", "--fractions", "0.5", "1", "--epochs", "3", "--cap", "7",
                 "--no-plot", "--name", "a", "--name", "b")
    cfg = resolve(Schema, args, FLAGS)
    assert (cfg.mode, cfg.fractions, cfg.inner.epochs, cfg.cap, cfg.plot, cfg.names) == (
        "slow", [0.5, 1.0], 3, 7, False, ["a", "b"])


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "'inner.epochs' must be >= 1, got 0"),
    (["--fractions", "0.5", "2"], "'fractions' must be <= 1, got 2.0"),
    (["--cap", "x"], "must be an integer, got 'x'"),
    (["--mode", "medium"], "invalid choice: 'medium'"),
])
def test_bounds_and_types_of_the_field_are_checked_at_the_flag(argv, message):
    with pytest.raises(Refused, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse("--path", "p", *argv)


def test_help_shows_the_one_default_from_the_schema():
    parser = Parser(prog="t")
    add_flags(parser, Schema, FLAGS)
    text = parser.format_help()
    assert "epochs (default: 30)" in text and "shares (default: 0.1 1.0)" in text
    assert "no plot (default" not in text  # a switch that turns a true default off does not claim a default


def test_a_positional_list_may_be_left_out_or_given():
    assert resolve(Schema, parse("--path", "p"), FLAGS).names == []
    assert resolve(Schema, parse("--path", "p", "x", "y"), FLAGS).names == ["x", "y"]


def test_required_is_checked_after_merging_so_a_config_file_may_supply_it(tmp_path):
    with pytest.raises(UserError, match=r"--path is required \(or path in --config\)"):
        resolve(Schema, parse(), FLAGS)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"path": "from-file", "inner": {"epochs": 4}}))
    cfg = resolve(Schema, parse("--config", str(config)), FLAGS)
    assert (cfg.path, cfg.inner.epochs, cfg.inner.lr) == ("from-file", 4, 0.01)


def test_precedence_is_file_then_flags_then_set(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"path": "p", "inner": {"epochs": 4, "lr": 0.5}}))
    cfg = resolve(Schema, parse("--config", str(config), "--epochs", "5", "--set", "inner.lr=0.25"), FLAGS)
    assert (cfg.inner.epochs, cfg.inner.lr) == (5, 0.25)
    cfg = resolve(Schema, parse("--config", str(config), "--epochs", "5", "--set", "inner.epochs=6"), FLAGS)
    assert cfg.inner.epochs == 6


def test_unknown_keys_name_the_dotted_key_and_the_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"path": "p", "inner": {"epochz": 4}}))
    with pytest.raises(UserError, match=r"c\.yaml: unknown key 'inner\.epochz'"):
        resolve(Schema, parse("--config", str(config)), FLAGS)
    with pytest.raises(UserError, match=r"with --set\): unknown key 'inner\.nope'"):
        resolve(Schema, parse("--path", "p", "--set", "inner.nope=1"), FLAGS)


def test_the_resolved_config_round_trips(tmp_path):
    cfg = resolve(Schema, parse("--path", "p", "--epochs", "9", "--no-plot"), FLAGS)
    written = write_resolved(cfg, tmp_path)
    again = resolve(Schema, parse("--config", str(written)), FLAGS)
    assert again == cfg


def test_a_flag_naming_a_key_the_schema_lacks_fails_when_the_parser_is_built():
    with pytest.raises(KeyError, match="no key 'inner.epochz'"):
        parse("--path", "p", flags=[Flag("--epochs", "inner.epochz")])
