"""The hook implementations of digest: one GraphQL query over the feedback plugin's published API."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import strawberry
from nentang_feedback import api as feedback

from nentang.sdk import GraphQLContribution, TenantContext, graphql_metadata, graphql_request, hookimpl

# `feedback` above is a required plugin's published module: importing it is safe, because the kernel
# loads digest only when feedback is installed and usable, and calls digest's hooks (and serves its
# fields) only where feedback is enabled too.

#: The longest period one query may ask for (it also bounds the list, as the schema rules require).
MAX_DAYS = 31


@strawberry.type(description="How many pieces of feedback a commune received on one day.")
class DigestDay:
    day: date
    submitted: int


@strawberry.type
class DigestQuery:
    @strawberry.field(
        description="Feedback received per day over the last `days` days (Vietnam time), oldest first; "
        "needs digest.read.",
        metadata=graphql_metadata(max_items=MAX_DAYS),
    )
    async def digest_daily(self, info: strawberry.Info, days: int = 7) -> list[DigestDay]:
        request = graphql_request(info)
        request.require_permission("digest.read")
        days = max(1, min(days, MAX_DAYS))
        today = datetime.now(feedback.VIETNAM).date()
        since = today - timedelta(days=days - 1)

        def count(ctx: TenantContext) -> list[DigestDay]:
            counts = feedback.counts_by_day(ctx.session, since=since)
            return [DigestDay(day=d, submitted=counts.get(d, 0)) for d in _days(since, today)]

        return await request.run(count)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@hookimpl
def nentang_graphql_contribute() -> GraphQLContribution:
    return GraphQLContribution(queries=(DigestQuery,))
