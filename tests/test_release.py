"""The release is written in one place and said the same everywhere: the package, pyproject.toml,
the changelog's newest release and `python -m fieldops --version`."""

import re
import subprocess
import sys
import tomllib

import fieldops

from .servers import ROOT


def test_the_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", fieldops.__version__)
    assert fieldops.__version__ != "0.1.0"


def test_python_m_fieldops_prints_the_version():
    done = subprocess.run(
        [sys.executable, "-m", "fieldops", "--version"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == f"fieldops {fieldops.__version__}"


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "fieldops.__version__"}


def test_the_changelogs_newest_release_is_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert releases and releases[0] == fieldops.__version__
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{releases[0]}]")
