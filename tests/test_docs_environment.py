"""The operations guide's table of environment variables is the list the code reads: no more, no less.

The kernel reads the environment in one place, ``Settings.from_environ`` (and the settings it
delegates to); the review commands take ``NENTANG_REGISTRY`` through their option. The test hands
``from_environ`` a mapping that records every key asked for, so a variable read by new code and
left out of the table fails here, and so does a documented one that nothing reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nentang.kernel.settings import Settings

OPERATIONS = Path(__file__).resolve().parent.parent / "docs" / "operations.md"


class RecordingEnviron(dict[str, str]):
    """An empty environment that remembers every variable name asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("settings must ask for variables by name, not walk the environment")


def documented_variables() -> set[str]:
    section = OPERATIONS.read_text(encoding="utf-8").split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(NENTANG_[A-Z0-9_]+)` \|", section, flags=re.MULTILINE))


def read_variables() -> set[str]:
    environ = RecordingEnviron()
    Settings.from_environ(environ)
    return {name for name in environ.asked if name.startswith("NENTANG_")}


def test_every_variable_the_settings_read_is_documented() -> None:
    missing = read_variables() - documented_variables()
    assert not missing, f"read by Settings.from_environ but not in docs/operations.md: {sorted(missing)}"


def test_every_documented_variable_is_read() -> None:
    # NENTANG_REGISTRY is read by Settings and, as an option's envvar, by the review commands too.
    unread = documented_variables() - read_variables()
    assert not unread, f"documented in docs/operations.md but read by nothing: {sorted(unread)}"


def test_the_table_is_found_and_not_empty() -> None:
    assert {"NENTANG_DATABASE_URL", "NENTANG_MODE"} <= documented_variables()
