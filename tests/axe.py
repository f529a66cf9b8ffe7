"""axe-core, vendored under tests/vendor/axe-core/, run inside a Playwright page.

The source is injected with `page.evaluate`, which the page's Content-Security-Policy does not
govern (a <script> tag would be refused: the pages allow only scripts served by Fieldops, and axe
is a test tool that Fieldops never serves).
"""

from pathlib import Path

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
SHOWN_NODES = 5  # per rule: enough to find the pattern, short enough to read

_RUN = """async (options) => {
  const result = await window.axe.run(document, options);
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary || ""})),
  }));
}"""


def axe_violations(page, impacts=BLOCKING) -> list[dict]:
    """The page's axe violations of the given impacts, each with its rule, help and nodes."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    found = page.evaluate(_RUN, {"resultTypes": ["violations"]})
    return [v for v in found if v["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    """Violations as lines a person can act on: rule, impact, help, then each offending node."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:SHOWN_NODES]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary}")
        if len(v["nodes"]) > SHOWN_NODES:
            lines.append(f"    ... and {len(v['nodes']) - SHOWN_NODES} more like these")
    return "\n".join(lines)
