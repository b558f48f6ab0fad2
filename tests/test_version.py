import tomllib
from pathlib import Path

from byol_transfer.version import __version__


def test_the_package_version_is_the_one_pyproject_declares():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert __version__ == pyproject["project"]["version"]
