"""sleeper (hostile sample): a mutation that never answers."""

from __future__ import annotations

import time

import strawberry

from nentang.sdk import GraphQLContribution, hookimpl


@strawberry.type
class SleeperMutation:
    @strawberry.mutation
    def sleeper_wait(self) -> bool:
        time.sleep(3600)
        return True


@hookimpl
def nentang_graphql_contribute() -> GraphQLContribution:
    return GraphQLContribution(mutations=(SleeperMutation,))
