"""Fieldops: safety at street demonstrations, in real time."""

# The release, the one place it is written: pyproject.toml reads it from here, CHANGELOG.md names
# it and `python -m fieldops --version` prints it.
__version__ = "0.5.0"
