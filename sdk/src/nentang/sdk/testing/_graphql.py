"""``nentang_graphql``: GraphQL over the real app in process, signed in as a user, in a tenant.

The client posts to ``/graphql`` exactly as a browser of that user would: the web session's
cookie, its CSRF token, and ``X-Tenant`` naming the tenant. What a resolver sees — the caller, the
tenant, the enabled plugins — is therefore what it sees in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, final

from nentang.sdk.errors import NentangError

if TYPE_CHECKING:
    import httpx

GRAPHQL_PATH: Final = "/graphql"


class GraphQLUnavailable(NentangError):
    """The kernel under test serves no ``/graphql`` endpoint (GraphQL is not wired into its app)."""

    code = "testing.graphql_unavailable"


@final
@dataclass(frozen=True, slots=True)
class GraphQLResult:
    """One GraphQL response: HTTP status, ``data`` and ``errors`` as the server sent them."""

    status_code: int
    data: Any = None
    #: The ``errors`` list of the response (empty when there were none).
    errors: tuple[Mapping[str, Any], ...] = ()
    #: The whole JSON body.
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """HTTP 200 and no errors."""
        return self.status_code == 200 and not self.errors

    @property
    def codes(self) -> tuple[str, ...]:
        """The ``extensions.code`` of every error, in order (``"permission.denied"``, ...)."""
        return tuple(str((e.get("extensions") or {}).get("code", "")) for e in self.errors)

    def __str__(self) -> str:
        return f"GraphQLResult(status={self.status_code}, data={self.data!r}, errors={list(self.errors)!r})"


@final
class GraphQLClient:
    """Posts GraphQL documents to ``/graphql`` as one user in one tenant.

    ::

        gql = nentang_graphql(clerk, nentang_tree.commune)
        result = gql("query { forms_templates(first: 5) { edges { node { id } } } }")
        assert result.ok, result
    """

    __slots__ = ("_headers", "_http", "tenant", "user")

    def __init__(self, http: httpx.Client, headers: Mapping[str, str], *, user: str | None, tenant: str) -> None:
        self._http = http
        self._headers = dict(headers)
        #: The principal the client acts as (``None``: anonymous).
        self.user = user
        #: The code of the tenant named in ``X-Tenant``.
        self.tenant = tenant

    def __call__(
        self, query: str, variables: Mapping[str, Any] | None = None, *, operation_name: str | None = None
    ) -> GraphQLResult:
        """Run one document; returns the result whatever it holds (assert on ``ok``/``codes``)."""
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if operation_name is not None:
            payload["operationName"] = operation_name
        response = self._http.post(GRAPHQL_PATH, json=payload, headers=self._headers)
        if response.status_code == 404 and "json" not in response.headers.get("content-type", ""):
            raise GraphQLUnavailable(
                "GraphQL not available in this kernel: the app answers 404 on /graphql; the GraphQL endpoint "
                "is not wired into the kernel's HTTP app"
            )
        try:
            body = response.json()
        except ValueError:
            body = {"errors": [{"message": response.text[:500], "extensions": {"code": "http.not_json"}}]}
        if not isinstance(body, dict):
            body = {"errors": [{"message": f"unexpected body {body!r}"[:500]}]}
        return GraphQLResult(
            status_code=response.status_code,
            data=body.get("data"),
            errors=tuple(body.get("errors") or ()),
            body=body,
        )

    def data(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The ``data`` of a document that must succeed; raises :class:`AssertionError` with the
        errors otherwise (a test's one-liner)."""
        result = self(query, variables)
        if not result.ok:
            raise AssertionError(f"GraphQL as {self.user or 'anonymous'} at {self.tenant}: {result}")
        return result.data


__all__ = ["GraphQLClient", "GraphQLResult", "GraphQLUnavailable"]
