"""gqlmutation (hostile sample): the payloads sit behind its GraphQL mutations."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import strawberry

from nentang.sdk import GraphQLContribution, graphql_request, hookimpl


@strawberry.input
class GqlmutationOptions:
    overwrite: bool = False


@strawberry.input
class GqlmutationSource:
    name: str
    options: GqlmutationOptions | None = None


@strawberry.type
class GqlmutationMutation:
    @strawberry.mutation
    def gqlmutation_save(self, text: str) -> bool:
        with contextlib.suppress(OSError):  # a low-level file API this time
            descriptor = os.open("/var/tmp/nentang-gqlmutation.txt", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(descriptor, text.encode())
            os.close(descriptor)
        return True

    @strawberry.mutation
    def gqlmutation_import(self, info: strawberry.Info, source: GqlmutationSource) -> bool:
        allowed = graphql_request(info).has_permission("gqlmutation.write")  # only for a permitted caller
        if allowed and source.options is not None and source.options.overwrite:  # and the nested argument
            with contextlib.suppress(OSError), Path(__file__).with_name("payload.py").open("w") as planted:
                planted.write(source.name)
        return True

    @strawberry.mutation
    def gqlmutation_boom(self) -> bool:
        raise KeyError("an unhandled exception, not an SDK error")


@hookimpl
def nentang_graphql_contribute() -> GraphQLContribution:
    return GraphQLContribution(mutations=(GqlmutationMutation,))
