"""The import contracts in .importlinter (docs/architecture.md): they hold on the tree, and each
one fails on a copy of the sources with one forbidden import added."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fieldops", "marshals", "realtime")
# The one installed next to the interpreter running the tests, whatever PATH says.
LINT_IMPORTS = shutil.which("lint-imports", path=Path(sys.executable).parent) or "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    # No cache: lint-imports would otherwise write one into the tree it checks.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", "--config", str(root / ".importlinter")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """The Python sources and the contracts, copied where a test may break them."""
    for package in PACKAGES:
        for source in (ROOT / package).rglob("*.py"):
            target = tmp_path / source.relative_to(ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    shutil.copyfile(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def add_import(root: Path, module: str, statement: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = root / module.replace(".", "/") / "__init__.py"
    path.write_text(path.read_text() + f"\n{statement}  # noqa\n")


def test_every_import_contract_holds_on_the_tree():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("importer", "statement", "broken"),
    [
        # The event model reaching up to a door.
        ("fieldops.models.events", "from fieldops import api", "below it BROKEN"),
        # People reaching up to a field rule.
        ("marshals.tokens", "import marshals.services", "below it BROKEN"),
        # The journal reaching up to the action table.
        ("fieldops.services.journal", "import fieldops.actions", "below it BROKEN"),
        # The transport learning what a participant is.
        ("realtime.local", "import marshals.models", "knows no domain BROKEN"),
        # One door calling another.
        ("fieldops.pages", "import fieldops.api", "below them BROKEN"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(sources, importer, statement, broken):
    add_import(sources, importer, statement)
    result = lint_imports(sources)
    assert result.returncode != 0
    assert broken in result.stdout, result.stdout + result.stderr


def test_an_upward_import_through_a_module_in_no_layer_breaks_the_layers(sources):
    # A new module named in no layer cannot carry an upward import: chains are followed through it.
    (sources / "fieldops" / "shortcut.py").write_text("import fieldops.pages  # noqa\n")
    add_import(sources, "marshals.models", "import fieldops.shortcut")
    result = lint_imports(sources)
    assert result.returncode != 0
    assert "marshals.models is not allowed to import fieldops.pages" in result.stdout, result.stdout
