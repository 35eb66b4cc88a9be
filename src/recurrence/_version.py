"""Single source of the package version (kept in step with pyproject.toml and CITATION.cff)."""

__version__ = "0.1.0"
