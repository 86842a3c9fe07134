"""Pages a plugin adds to the web console (``nentang_http_console_pages``).

A plugin returns :class:`ConsolePage` values; the kernel mounts each at
``/t/{code}/console/p/{plugin}/{path}`` for the tenants where the plugin is enabled, and nowhere
else (elsewhere the address is a 404 page, and the menu has no entry). Before the handler runs,
the kernel has checked the session (signed in, not expired), bound the request to the unit of the
address (the person may stand there), checked a post's CSRF token, and checked ``permission``; the
handler only sees a :class:`ConsoleRequest`, whose context is bound to that unit.

A handler is a plain function, run as the plugin's call (off the event loop, under its deadline and
the runtime guard); it returns a :class:`ConsoleView` (a template of the plugin's, rendered inside
the console's layout) or a :class:`ConsoleRedirect` (after a post). A plugin template extends
``nentang/base.html`` and imports the console's macros from ``nentang/macros.html`` (``field``,
``error_summary``, ``csrf``, ``table``, ``pager``), so every plugin page looks like the platform::

    {% extends "nentang/base.html" %}
    {% import "nentang/macros.html" as ui %}
    {% block title %}{{ title }}{% endblock %}
    {% block content %}<h1>{{ title }}</h1>{{ ui.table(caption, headers, rows) }}{% endblock %}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeAlias

from nentang.sdk.context import TenantContext, TenantRef

#: A page's path under the plugin's part of the console: ``""`` (its first page) or segments of
#: lower-case letters, digits and ``-``.
PAGE_PATH: Final = re.compile(r"^(?:[a-z0-9][a-z0-9-]{0,40}(?:/[a-z0-9][a-z0-9-]{0,40}){0,3})?$")


class ConsoleRequest(Protocol):
    """One request to a plugin's console page, as its handler sees it."""

    @property
    def ctx(self) -> TenantContext:
        """The context bound to the page's unit and the signed-in person; ``ctx.session`` is the
        request's transaction (committed when the handler returns, rolled back if it raises)."""

    @property
    def tenant(self) -> TenantRef:
        """The unit of the address (``/t/{code}/...``)."""

    @property
    def method(self) -> str:
        """``"GET"`` or ``"POST"``."""

    @property
    def query(self) -> Mapping[str, str]:
        """The query string's values (the last of a repeated name)."""

    @property
    def form(self) -> Mapping[str, str]:
        """A post's form fields (its CSRF token already checked and left out); empty on a GET."""

    @property
    def locale(self) -> str:
        """The page's language: ``"vi"`` or ``"en"``."""

    def url(self, path: str = "") -> str:
        """The address of this plugin's page ``path`` in this unit (for links and redirects)."""


@dataclass(frozen=True, slots=True)
class ConsoleView:
    """Render ``template`` (in the plugin's template folder) inside the console's layout."""

    template: str
    #: The template's own values; the layout's (``_``, ``csrf_token``, ``tenant``, ``user``,
    #: ``fmt``, ``title``) are added by the kernel.
    values: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass(frozen=True, slots=True)
class ConsoleRedirect:
    """Send the browser to this plugin's page ``path`` (a 303 after a post, so a reload never posts again)."""

    path: str = ""


#: What a handler returns.
ConsoleResponse: TypeAlias = ConsoleView | ConsoleRedirect
ConsoleHandler: TypeAlias = Callable[[ConsoleRequest], ConsoleResponse]


@dataclass(frozen=True, slots=True)
class ConsolePage:
    """One page of a plugin's, at ``/t/{code}/console/p/{plugin}/{path}``."""

    #: Under the plugin's part of the console (:data:`PAGE_PATH`); ``""`` is its first page.
    path: str
    handler: ConsoleHandler
    #: The page's title (and menu label) in each language: ``{"vi": ..., "en": ...}``.
    title: Mapping[str, str]
    #: The permission (one the plugin declares) the person must hold at the unit; refused otherwise.
    permission: str
    #: The folder of the plugin's templates, relative to its package (no ``..``): the kernel finds
    #: it, so plugin code never touches the file system.
    templates: str = "templates"
    #: ``("GET",)`` or ``("GET", "POST")``.
    methods: tuple[str, ...] = ("GET",)
    #: Whether the unit's menu links to this page (only for people who hold ``permission``).
    menu: bool = True
