"""The package version, importable from every level (the root package imports every level, so it cannot be)."""

__version__ = "0.1.0"  # keep equal to pyproject.toml's version
