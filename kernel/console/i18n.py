"""The console's languages: Vietnamese by default, English on request, from gettext catalogues.

Why it works this way:

- **Catalogues, not strings in code.** Every text a page shows is a ``_("...")`` call in a template
  (or in ``messages.py`` for texts built in Python), with its translations in
  ``locale/<lang>/LC_MESSAGES/console.po``. The message ids are English; ``vi`` translates each one
  and a test fails when a message has no Vietnamese translation.
- **Compiled in memory at start.** The ``.po`` files are the only committed form; :class:`Catalogues`
  compiles them with Babel when the app is built, so there is no build step, no binary ``.mo`` in
  the repository, and no way for the two to drift.
- **Choosing the language**: ``?lang=vi|en`` on any page (the switch in the header is a plain link,
  so it works without JavaScript) sets the ``nentang_lang`` cookie; otherwise the cookie decides;
  otherwise Vietnamese. The browser's ``Accept-Language`` is not consulted: the platform's working
  language is Vietnamese whatever the browser says.
- **Vietnamese conventions** for numbers (``3.356``), dates (``08/12/2026``) and times (24-hour, in
  Asia/Ho_Chi_Minh), through Babel's CLDR data for the chosen locale.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Final, final
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from starlette.requests import Request

LOCALES: Final = ("vi", "en")
DEFAULT_LOCALE: Final = "vi"
LANG_COOKIE: Final = "nentang_lang"
LANG_PARAM: Final = "lang"
DOMAIN: Final = "console"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
#: The platform's clock for people: Vietnam has one time zone and no daylight saving.
LOCAL_TIME: Final = ZoneInfo("Asia/Ho_Chi_Minh")
#: Language names as each language writes its own (the switch shows them so).
LANGUAGE_NAMES: Final = {"vi": "Tiếng Việt", "en": "English"}


def N_(message: str) -> str:
    """Mark a message for the catalogue where it is defined; it is translated where it is shown."""
    return message


#: The kinds of unit, as templates show them (``_(unit.kind.value)``).
KIND_NAMES: Final = (N_("central"), N_("province"), N_("commune"), N_("unit"))


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@final
class Catalogues:
    """The compiled catalogue of each language, built once per app."""

    __slots__ = ("_translations",)

    def __init__(self, directory: Path = LOCALE_DIR) -> None:
        self._translations: dict[str, Translations] = {}
        for locale in LOCALES:
            with (directory / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
                catalog = read_po(po, locale=locale, domain=DOMAIN)
            compiled = io.BytesIO()
            write_mo(compiled, catalog)
            compiled.seek(0)
            self._translations[locale] = Translations(fp=compiled, domain=DOMAIN)

    def get(self, locale: str) -> Translations:
        return self._translations[locale]


def requested_locale(request: Request) -> str | None:
    """The language named by ``?lang=`` on this request, if it is one we have."""
    wanted = request.query_params.get(LANG_PARAM)
    return wanted if wanted in LOCALES else None


def locale_of(request: Request) -> str:
    """``?lang=`` first, then the cookie, then Vietnamese."""
    wanted = requested_locale(request)
    if wanted is not None:
        return wanted
    cookie = request.cookies.get(LANG_COOKIE)
    return cookie if cookie in LOCALES else DEFAULT_LOCALE


@final
class Formats:
    """Numbers, dates and times in one locale's conventions (templates call these as filters)."""

    __slots__ = ("locale",)

    def __init__(self, locale: str) -> None:
        self.locale = locale

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def date(self, value: datetime) -> str:
        return format_date(value.astimezone(LOCAL_TIME), "short" if self.locale == "vi" else "medium", self.locale)

    def datetime(self, value: datetime) -> str:
        local = value.astimezone(LOCAL_TIME)
        if self.locale == "vi":  # Vietnamese writes the day first, in full: 08/12/2026 09:21
            return format_datetime(local, "dd/MM/yyyy HH:mm", locale=self.locale)
        return format_datetime(local, "d MMM yyyy HH:mm", locale=self.locale)
