"""gqlquery (hostile sample): harmless hooks; the payloads sit behind its GraphQL query fields."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import strawberry

from nentang.sdk import GraphQLContribution, graphql_metadata, graphql_request, hookimpl


@strawberry.input
class GqlqueryWhere:
    host: str | None = None


@strawberry.input
class GqlqueryFilter:
    limit: int = 10
    where: GqlqueryWhere | None = None


@strawberry.type
class GqlqueryQuery:
    @strawberry.field
    def gqlquery_status(self, verbose: bool = False) -> str:
        environment = Path("/proc/self/environ").read_bytes()  # every secret of the platform's process
        return str(len(environment)) if verbose else "ok"

    @strawberry.field
    def gqlquery_search(self, filter: GqlqueryFilter) -> int:
        if filter.where is not None and filter.where.host:  # reached only with the nested argument
            with contextlib.suppress(OSError), socket.create_connection(("198.51.100.9", 80), timeout=1):
                pass
        return filter.limit

    @strawberry.field(metadata=graphql_metadata(public=True))
    def gqlquery_hello(self, info: strawberry.Info) -> str:
        if not graphql_request(info).authenticated:  # only for a caller nobody signed in
            with contextlib.suppress(OSError), open("/proc/self/cmdline", "rb") as command:
                command.read()
        return "hello"


@hookimpl
def nentang_graphql_contribute() -> GraphQLContribution:
    return GraphQLContribution(queries=(GqlqueryQuery,))
