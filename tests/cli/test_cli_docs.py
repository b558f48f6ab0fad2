"""The CLI reference page must document every sub-command the CLI has."""

from pathlib import Path

from byol_transfer.cli import COMMANDS, build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_every_command_has_a_section_in_the_cli_reference():
    text = DOCS.read_text()
    missing = [name for name in COMMANDS if f"## byol-transfer {name}" not in text]
    assert not missing, f"docs/cli.md lacks sections for: {missing}"


def test_every_command_builds_its_parser():
    parser, runners = build_parser()
    assert set(runners) == set(COMMANDS)
