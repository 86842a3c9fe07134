"""GraphQL settings: the protections of the public API and the persisted-query registry.

One frozen value, held by :class:`~nentang.kernel.settings.Settings` as ``settings.graphql``, so a
test hands tight limits to its own kernel without touching a global. Field suggestions ("Did you
mean ...?") follow the kernel's ``mode``: shown in development, hidden in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, final

from nentang.sdk.errors import ValidationFailed

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})
#: ``NENTANG_GRAPHQL_<NAME>`` variables read into the integer limits below.
_INTEGER_LIMITS: Final = (
    "max_body_bytes",
    "max_tokens",
    "max_depth",
    "max_aliases",
    "max_cost",
    "max_page_size",
)


@final
@dataclass(frozen=True, slots=True)
class GraphQLSettings:
    #: Largest request body (POST) or query string (GET) accepted, in bytes; larger gets 413.
    max_body_bytes: int = 256 * 1024
    #: Lexical tokens (and, separately, comments) a document may contain before parsing stops.
    max_tokens: int = 5_000
    #: Deepest field nesting of an operation (fragments expanded).
    max_depth: int = 15
    #: Aliased fields in one document.
    max_aliases: int = 30
    #: Highest estimated cost of an operation: every field costs 1, multiplied by the page size
    #: (``first``) or the declared bound of each list it sits in.
    max_cost: int = 20_000
    #: The largest ``first`` any paginated field accepts.
    max_page_size: int = 100
    #: Validated documents kept per cached schema (an LRU keyed by the query text).
    documents_per_schema: int = 500
    #: Distinct enabled-plugin sets whose schema a worker keeps (an LRU).
    schemas: int = 64
    #: Seconds a worker reuses a tenant named by ``X-Tenant`` (code, status); suspensions made on
    #: another worker or by the CLI take at most this long to refuse such requests. ``0`` disables
    #: it. (A token's tenant is the worker's serving cache's, forgotten on every tree change heard.)
    tenant_cache_seconds: float = 1.0
    #: Seconds before a schema built without a failing plugin is built again, to retry it.
    retry_failed_plugins_after: float = 60.0
    #: The operators' registry of persisted queries (JSON, see ``docs/graphql.md``); ``None``: none.
    persisted_queries_path: Path | None = None
    #: Refuse any document that is not in the registry (production may require it).
    persisted_queries_only: bool = False

    def __post_init__(self) -> None:
        for name in (*_INTEGER_LIMITS, "documents_per_schema", "schemas"):
            if getattr(self, name) < 1:
                raise ValidationFailed(f"graphql.{name} must be at least 1, not {getattr(self, name)}")
        if self.persisted_queries_only and self.persisted_queries_path is None:
            raise ValidationFailed(
                "graphql.persisted_queries_only needs a registry: set persisted_queries_path "
                "(NENTANG_GRAPHQL_PERSISTED_QUERIES)"
            )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GraphQLSettings:
        """``NENTANG_GRAPHQL_*`` variables; a bad value fails with the variable's name."""
        values: dict[str, object] = {}
        for name in _INTEGER_LIMITS:
            variable = f"NENTANG_GRAPHQL_{name.upper()}"
            raw = environ.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                raise ValidationFailed(f"{variable} must be a whole number, not {raw!r}") from None
        path = environ.get("NENTANG_GRAPHQL_PERSISTED_QUERIES", "").strip()
        if path:
            values["persisted_queries_path"] = Path(path)
        only = environ.get("NENTANG_GRAPHQL_PERSISTED_ONLY", "false").strip().lower()
        if only not in _TRUE | _FALSE:
            raise ValidationFailed(f"NENTANG_GRAPHQL_PERSISTED_ONLY must be 'true' or 'false', not {only!r}")
        values["persisted_queries_only"] = only in _TRUE
        return cls(**values)  # type: ignore[arg-type]  # names and types checked above


__all__ = ["GraphQLSettings"]
