"""Keep the console's catalogues in step with its templates and code.

    python -m nentang.kernel.console.catalogue          # add new messages to vi and en, drop gone ones
    python -m nentang.kernel.console.catalogue --check  # exit 1 if a message is missing or untranslated

Messages are found with Babel's extractors: ``_()``, ``ngettext()`` and ``N_()`` in the templates
(Jinja2) and in the console's Python modules. Translations already in a ``.po`` file are kept;
a new message starts untranslated, and ``--check`` (also run by the test suite) fails until the
Vietnamese catalogue translates it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from nentang.kernel.console.i18n import DEFAULT_LOCALE, DOMAIN, LOCALES, po_path

HERE = Path(__file__).parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def extracted() -> Catalog:
    """Every message the console's templates and code use."""
    catalog = Catalog(domain=DOMAIN, project="nentang-console")
    options = {"templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}
    for filename, lineno, message, comments, _context in extract_from_dir(
        HERE, METHODS, options_map=options, keywords=KEYWORDS
    ):
        catalog.add(message, locations=[(filename, lineno)], auto_comments=comments)
    return catalog


def _read(locale: str) -> Catalog:
    path = po_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN)
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def problems() -> list[str]:
    """Messages missing from a catalogue, or without a Vietnamese translation."""
    found: list[str] = []
    template = extracted()
    for locale in LOCALES:
        catalog = _read(locale)
        for message in template:
            if not message.id:
                continue
            have = catalog.get(message.id)
            if have is None:
                found.append(f"{locale}: missing {message.id!r}")
            elif locale == DEFAULT_LOCALE and (
                not have.string or (isinstance(have.string, tuple) and not all(have.string))
            ):
                found.append(f"{locale}: untranslated {message.id!r}")
    return found


def update() -> None:
    template = extracted()
    for locale in LOCALES:
        catalog = _read(locale)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.project, catalog.version = "NenTang console", "1"
        catalog.copyright_holder, catalog.msgid_bugs_address = "NenTang", ""
        catalog.fuzzy = False  # a fuzzy header is left out of the compiled catalogue, plural forms with it
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, width=0, sort_output=True, include_lineno=False)


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        found = problems()
        print("\n".join(found) or "catalogues complete")
        return 1 if found else 0
    update()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
