"""docs/safety.md says what the code does: its settings table names every safety setting with its
variable and default, and its Web Push table lists exactly the kinds the registry pushes, at their
levels. (docs/protocol.md's kinds table is written from the registry: tests/test_journal_kinds.py.)"""

import ast
import re
from pathlib import Path

import pytest

from fieldops.services.kinds import KINDS, PUSH_LEVEL_FROM_DATA

ROOT = Path(__file__).resolve().parent.parent
SAFETY_MD = ROOT / "docs" / "safety.md"
BASE_SETTINGS = ROOT / "fieldops" / "settings" / "base.py"


def table_after(heading_row: str) -> list[list[str]]:
    """The rows of the Markdown table whose header row starts with `heading_row`, as cells."""
    lines = SAFETY_MD.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading_row))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def code(cell: str) -> str:
    found = re.search(r"`([^`]+)`", cell)
    return found.group(1) if found else ""


SETTINGS = [row for row in table_after("| setting |") if not row[0].startswith("*")]


def shipped_defaults() -> dict[str, tuple[str, object]]:
    """FIELDOPS's entries as settings/base.py reads them: name -> (variable, default), so the
    docs are checked against what a deployment gets, not what the tests set."""
    tree = ast.parse(BASE_SETTINGS.read_text())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(value, ast.Call)
                    and getattr(value.func, "id", "").startswith("env_")
                ):
                    variable = value.args[0].value
                    default = ast.Expression(value.args[1])
                    try:  # a constant expression of our own settings, or not one of these
                        found[key.value] = (variable, eval(compile(default, "", "eval"), {}))  # noqa: S307
                    except NameError:
                        continue
    return found


@pytest.mark.parametrize("row", SETTINGS, ids=[code(r[0]) for r in SETTINGS])
def test_each_documented_safety_setting_exists_with_its_variable_and_default(row):
    name, variable, default = code(row[0]), code(row[1]), row[2]
    shipped = shipped_defaults()
    assert name in shipped, f"{name} is documented but not a setting"
    assert variable == shipped[name][0]
    value = shipped[name][1]
    expected = ("on" if value else "off") if isinstance(value, bool) else str(value)
    assert default == expected, f"{name}: the docs say {default}, the code {value}"


def test_every_safety_setting_the_rules_read_is_documented():
    documented = {code(row[0]) for row in SETTINGS}
    safety = {
        key
        for key in shipped_defaults()
        if key.startswith(("SOS_", "OFF_ROUTE", "OVERDUE_", "ROUTE_ACK_", "WATCH_"))
    }
    assert safety <= documented, f"undocumented: {sorted(safety - documented)}"


def test_the_push_table_lists_exactly_the_pushed_kinds_at_their_levels():
    rows = {code(row[0]): row[2] for row in table_after("| entry | pushed to | level |")}
    pushed = {name: kind.push for name, kind in KINDS.items() if kind.push}
    assert set(rows) == set(pushed)
    for name, level in pushed.items():
        if level == PUSH_LEVEL_FROM_DATA:
            assert rows[name] in ("the alert's", "danger", "warning", "info"), name
        else:
            assert rows[name] == level, name
