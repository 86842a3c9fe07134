"""Helpers for the GraphQL tests: a client that speaks GraphQL over the real app, API tokens made
through the real services, and throwaway plugins that contribute to the schema.

Kinds (after CKAN's taxonomy): :class:`GraphQL` is a value (wrap a ``TestClient``); the
``*_CODE`` strings are plugin modules for ``plugin_factory.make``; :func:`token_for` and
:func:`statements` are helpers the tests call.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from starlette.testclient import TestClient

from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.identity.actor import Actor
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.identity_fixtures import identity_settings

OPERATOR = Actor.system("tests-operator")
GRAPHQL_RESPONSE = "application/graphql-response+json"


def counting_settings(database_url: str) -> Settings:
    """Settings for tests that count statements: no reuse of resolved tenants, so every request
    costs the same statements (and fast password hashing, as every identity test)."""
    return identity_settings(database_url).with_overrides(graphql=GraphQLSettings(tenant_cache_seconds=0))


def token_for(kernel: Kernel, tenant_code: str, *roles: str) -> str:
    """A bearer token bound to ``tenant_code`` holding ``roles`` there (the operator path)."""
    created = kernel.tokens.create_as_operator(
        OPERATOR,
        tenant_code=tenant_code,
        name=f"tests {tenant_code} {secrets.token_hex(4)}",
        roles=list(roles),
        expires_in_days=7,
    )
    return created.plaintext


@dataclass
class GraphQL:
    """POST GraphQL to ``/graphql`` of a real app; ``token``/``tenant`` are the defaults per call."""

    http: TestClient
    token: str | None = None
    tenant: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def post(
        self,
        query: str | None,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        tenant: str | None = None,
        accept: str | None = GRAPHQL_RESPONSE,
        anonymous: bool = False,
        **body: Any,
    ) -> Any:
        payload: dict[str, Any] = {**body}
        if query is not None:
            payload["query"] = query
        if variables is not None:
            payload["variables"] = variables
        return self.http.post("/graphql", json=payload, headers=self._headers(token, tenant, accept, anonymous))

    def get(self, params: dict[str, str], *, token: str | None = None, tenant: str | None = None) -> Any:
        return self.http.get("/graphql", params=params, headers=self._headers(token, tenant, GRAPHQL_RESPONSE, False))

    def data(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """The data of a query that must succeed without errors."""
        response = self.post(query, variables, **kwargs)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    def _headers(self, token: str | None, tenant: str | None, accept: str | None, anonymous: bool) -> dict[str, str]:
        headers = dict(self.headers)
        bearer = None if anonymous else (token or self.token)
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if tenant or self.tenant:
            headers["X-Tenant"] = tenant or self.tenant or ""
        if accept:
            headers["Accept"] = accept
        return headers


def codes(response: Any) -> list[str]:
    return [e["extensions"]["code"] for e in response.json()["errors"]]


@contextmanager
def statements(kernel: Kernel, table: str = "kernel_tenant") -> Iterator[list[str]]:
    """Every SELECT on ``table`` the kernel's application engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = statement.lstrip().upper()
        if text.startswith(("SELECT", "WITH")) and table.upper() in text:
            seen.append(statement)

    event.listen(kernel.db.app_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(kernel.db.app_engine, "before_cursor_execute", record)


NOTES_PERMISSIONS = {
    "permissions": [{"name": "notes.write", "description": "Write notes"}],
    "roles": [{"name": "notes.writer", "description": "Writes notes", "permissions": ["notes.write"]}],
}

#: A plugin with queries, a public field, a mutation writing through its tenant-bound session,
#: and a field that fails unexpectedly.
NOTES_CODE = """
import strawberry
from sqlalchemy import func, select

from nentang.sdk import GraphQLContribution, ValidationFailed, graphql_metadata, graphql_request, hookimpl
from tests.fixtures.notes_plugin.models import Note


@strawberry.type
class NotesNote:
    id: int
    body: str


@strawberry.type
class NotesPage:
    items: list[NotesNote] = strawberry.field(metadata=graphql_metadata(page_items=True))
    has_more: bool


@strawberry.type
class NotesQuery:
    @strawberry.field
    async def notes_list(self, info: strawberry.Info, first: int) -> NotesPage:
        def read(ctx):
            rows = ctx.session.scalars(select(Note).order_by(Note.id).limit(first + 1)).all()
            notes = [NotesNote(id=r.id, body=r.body) for r in rows[:first]]
            return NotesPage(items=notes, has_more=len(rows) > first)

        return await graphql_request(info).run(read)

    @strawberry.field(metadata=graphql_metadata(public=True))
    def notes_greeting(self, info: strawberry.Info) -> str:
        request = graphql_request(info)
        return f"xin chao {request.tenant.code} from {request.plugin} to {request.actor}"

    @strawberry.field
    def notes_boom(self) -> str | None:
        raise RuntimeError("the notes index is corrupt")


@strawberry.type
class NotesMutation:
    @strawberry.mutation
    async def notes_add(self, info: strawberry.Info, body: str, refuse: bool = False) -> NotesNote:
        request = graphql_request(info)
        request.require_permission("notes.write")

        def add(ctx):
            next_id = (ctx.session.scalar(select(func.max(Note.id))) or 0) + 1
            ctx.session.add(Note(id=next_id, body=body))
            ctx.session.flush()
            if refuse:
                raise ValidationFailed("the note was refused after it was written", code="notes.refused")
            return NotesNote(id=next_id, body=body)

        return await request.run(add)


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(NotesQuery,), mutations=(NotesMutation,))
"""

#: A second, independent plugin.
POLLS_CODE = """
import strawberry

from nentang.sdk import GraphQLContribution, hookimpl


@strawberry.type
class PollsQuery:
    @strawberry.field
    def polls_open_count(self) -> int:
        return 3


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(PollsQuery,))
"""

#: A plugin whose hook raises.
RAISING_CODE = """
from nentang.sdk import hookimpl


@hookimpl
def nentang_graphql_contribute():
    raise RuntimeError("cannot load the form templates")
"""

#: A plugin that breaks every rule of a contribution.
SLOPPY_CODE = """
import strawberry

from nentang.sdk import GraphQLContribution, hookimpl


@strawberry.type
class Item:
    name: str


@strawberry.type
class SloppyQuery:
    @strawberry.field
    def items(self) -> list[Item]:
        return []

    @strawberry.field
    def sloppy_all(self) -> list[Item]:
        return []


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(SloppyQuery,))
"""

#: A plugin named "tenant" whose type name falls in its namespace and in the kernel's.
KERNEL_CLASH_CODE = """
import strawberry

from nentang.sdk import GraphQLContribution, hookimpl


@strawberry.type
class TenantEdge:
    label: str


@strawberry.type
class TenantQuery:
    @strawberry.field
    def tenant_edge(self) -> TenantEdge:
        return TenantEdge(label="x")


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(TenantQuery,))
"""


def clash_code(owner: str) -> str:
    """A plugin ``owner`` defining ``Query.alpha_beta_count`` (in the namespace of "alpha" and of "alpha_beta")."""
    return f"""
import strawberry

from nentang.sdk import GraphQLContribution, hookimpl


@strawberry.type
class Q:
    @strawberry.field(name="alpha_beta_count")
    def count(self) -> int:
        return {len(owner)}


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(Q,))
"""


#: Fails on its first call, works afterwards (a transient failure).
FLAKY_CODE = """
import strawberry

from nentang.sdk import GraphQLContribution, hookimpl

CALLS = []


@strawberry.type
class FlakyQuery:
    @strawberry.field
    def flaky_ok(self) -> bool:
        return True


@hookimpl
def nentang_graphql_contribute():
    CALLS.append(1)
    if len(CALLS) == 1:
        raise ConnectionError("the schema registry did not answer")
    return GraphQLContribution(queries=(FlakyQuery,))
"""
