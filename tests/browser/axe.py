"""The accessibility scan: axe-core, vendored (``tests/browser/vendor/axe-core``), run in the page.

axe's source is evaluated through the DevTools protocol rather than added as a ``<script>``, so the
page's Content-Security-Policy (no inline scripts) stays as served while it is scanned.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
#: WCAG 2.0-2.2 A and AA, the console's target (issue 15), plus axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = ("serious", "critical")


@cache
def axe_source() -> str:
    return AXE.read_text()


def scan(page: Page) -> list[dict[str, Any]]:
    """Every axe violation of the page as it is now (all impacts)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result: dict[str, Any] = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        TAGS,
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['impact']}: {v['id']} ({v['help']}) {v['helpUrl']}")
        lines.extend(
            f"    at {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}" for node in v["nodes"]
        )
    return "\n".join(lines)


def assert_accessible(page: Page, where: str) -> None:
    """Fail the test, listing them, if the page has serious or critical violations."""
    bad = [v for v in scan(page) if v["impact"] in FAILING_IMPACTS]
    if bad:
        pytest.fail(f"accessibility scan of {where} ({page.url}): {len(bad)} serious or critical\n{describe(bad)}")
