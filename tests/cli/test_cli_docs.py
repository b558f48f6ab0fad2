"""docs/cli.md must document every sub-command and every option the real parser accepts.

Both lists come from the argparse parser the CLI runs, not from a table kept next to it, so a new
sub-command or flag without documentation fails here.
"""

import argparse
import re
from pathlib import Path

import pytest

from byol_transfer.cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser, _ = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def _long_options(parser: argparse.ArgumentParser) -> set[str]:
    options = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # e.g. `prepare tiles`: its own options count too
            for sub in action.choices.values():
                options |= _long_options(sub)
        options |= {o for o in action.option_strings if o.startswith("--") and o != "--help"}
    return options


def _sections() -> dict[str, str]:
    text = DOCS.read_text()
    parts = re.split(r"^## byol-transfer (\S+)\s*$", text, flags=re.M)
    return {name: body for name, body in zip(parts[1::2], parts[2::2])}


def test_every_subcommand_of_the_parser_has_a_section():
    missing = sorted(set(_subcommands()) - set(_sections()))
    assert not missing, f"docs/cli.md lacks '## byol-transfer NAME' sections for: {missing}"


def _undocumented(name: str, body: str) -> list[str]:
    return sorted(o for o in _long_options(_subcommands()[name]) if not re.search(re.escape(o) + r"(?![\w-])", body))


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_option_is_documented_in_its_section(name):
    missing = _undocumented(name, _sections().get(name, ""))
    assert not missing, f"docs/cli.md section 'byol-transfer {name}' does not mention {missing}"


def test_the_check_sees_a_missing_option():
    """The check itself: the export section with its --out renamed is reported as lacking --out."""
    body = _sections()["export"]
    assert _undocumented("export", body) == []
    assert _undocumented("export", body.replace("--out", "--output")) == ["--out"]
