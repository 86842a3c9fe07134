"""The project stands alone: its docs, code and templates never point at files outside the repository
(a design or style guide kept elsewhere, a path of the machine it was written on)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("docs", "kernel", "sdk", "sandbox", "plugins", "bench", "tests")
SUFFIXES = {".md", ".py", ".toml", ".tmpl", ".yml", ".yaml", ".txt", ".html"}
#: Names of documents that live outside the repository, and absolute paths of a workstation.
OUTSIDE = re.compile(r"\b(DESIGN|STYLE)\.md\b|\.\./shared\b|/work/(main|shared)\b|/home/\w+/|/root/")


def files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "mkdocs.yml", ROOT / "pyproject.toml"]
    for folder in FOLDERS:
        found += [
            p for p in (ROOT / folder).rglob("*") if p.suffix in SUFFIXES and p.is_file() and ".venv" not in p.parts
        ]
    return [p for p in found if p != Path(__file__).resolve()]


def test_nothing_points_outside_the_repository() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}"
        for path in files()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not hits, "files outside the repository are named:\n" + "\n".join(hits)


def test_the_pattern_finds_what_it_is_for() -> None:
    for line in ("see `DESIGN.md`", "per STYLE.md convention 3", "in ../shared/", "at /work/shared/x"):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search("docs/architecture.md and docs/review.md")
