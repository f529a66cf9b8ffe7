"""Every string the pages and the server show has a Spanish translation, and the compiled catalogue
the server loads is the one the sources describe: the strings are extracted afresh from a copy of
the sources (Django's makemessages, GNU gettext) and compared with what is committed."""

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("fieldops", "marshals", "realtime", "templates", "locale", "manage.py")
COMMITTED_MO = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.mo"

pytestmark = pytest.mark.skipif(
    shutil.which("xgettext") is None, reason="GNU gettext is installed by `make system-test`"
)


def _catalog(mo: Path) -> dict:
    with mo.open("rb") as f:
        catalog = dict(gettext.GNUTranslations(f)._catalog)  # noqa: SLF001 - the whole catalogue
    catalog.pop("", None)  # the header: dates differ on every extraction
    return catalog


def _msgids(po_text: str) -> list[str]:
    """The msgid of each entry of a .po text, but the header's."""
    found = []
    for block in po_text.split("\n\n"):
        if "Content-Type:" in block:
            continue
        found += [line for line in block.splitlines() if line.startswith("msgid ")]
    return found


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    """The Spanish catalogue as the current sources give it, merged with the committed one."""
    copy = tmp_path_factory.mktemp("i18n")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, copy / name)
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "fieldops.settings.local"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", "--no-obsolete", "-v0"],
        cwd=copy,
        env=env,
        check=True,
        timeout=120,
    )
    return copy / "locale" / "es" / "LC_MESSAGES" / "django.po"


def test_every_string_has_a_spanish_translation(extracted):
    untranslated = subprocess.run(
        ["msgattrib", "--untranslated", "--no-wrap", str(extracted)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fuzzy = subprocess.run(
        ["msgattrib", "--only-fuzzy", "--no-wrap", str(extracted)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    missing, unsure = _msgids(untranslated), _msgids(fuzzy)
    assert not missing, "Not translated to Spanish:\n" + "\n".join(missing)
    assert not unsure, "Fuzzy (needs checking):\n" + "\n".join(unsure)


def test_the_committed_catalogue_is_compiled_from_the_sources(extracted, tmp_path):
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(compiled), str(extracted)], check=True)
    assert _catalog(compiled) == _catalog(COMMITTED_MO), (
        "locale/es is out of date: run `python manage.py makemessages -l es`, translate, then "
        "`python manage.py compilemessages`"
    )
