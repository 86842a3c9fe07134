"""The GraphQL part of feedback: strawberry types, a query and a mutation.

Naming rules (checked when the kernel builds a schema): top-level fields start with ``feedback_``,
types with ``Feedback``; a list is paginated (``first: Int!``, its items marked ``page_items``).
Resolvers reach their tenant only through :func:`nentang.sdk.graphql_request`. A field computed per
item (``sameDay``) is a batch field: one call, and one read, for every item of the page.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from nentang.sdk import TenantContext, batch_resolver, graphql_metadata, graphql_request
from nentang_feedback import api
from nentang_feedback.models import FeedbackRecord


async def _same_day(items: list[FeedbackItem], info: strawberry.Info) -> list[int]:
    # every item of the page at once (batch_resolver): one SELECT for the page, not one per item
    request = graphql_request(info)
    request.require_permission("feedback.read")  # also reachable from feedback_submit's answer
    days = [api.vietnam_day(item.submitted_at) for item in items]
    if not days:
        return []
    counts = await request.run(lambda ctx: api.counts_by_day(ctx.session, since=min(days)))
    return [counts.get(day, 0) for day in days]


@strawberry.type(description="A resident's feedback, numbered per commune.")
class FeedbackItem:
    number: int
    text: str
    submitted_at: datetime
    same_day: int = strawberry.field(
        description="How many pieces of feedback the commune received that day (Vietnam time); needs feedback.read.",
        resolver=batch_resolver(_same_day),
    )


@strawberry.type(description="One page of feedback, oldest first.")
class FeedbackPage:
    # the items of a page: the kernel counts them as `first` items in the query's cost
    items: list[FeedbackItem] = strawberry.field(metadata=graphql_metadata(page_items=True))
    #: pass it as `after` to get the next page
    end_cursor: int | None
    has_more: bool


def _item(row: FeedbackRecord | api.FeedbackRow) -> FeedbackItem:
    return FeedbackItem(number=row.number, text=row.text, submitted_at=row.submitted_at)


@strawberry.type
class FeedbackQuery:
    @strawberry.field(description="The commune's feedback; needs feedback.read.")
    async def feedback_items(self, info: strawberry.Info, first: int, after: int | None = None) -> FeedbackPage:
        request = graphql_request(info)
        request.require_permission("feedback.read")  # refused → error code "permission.denied"

        def read(ctx: TenantContext) -> FeedbackPage:
            rows, more = api.page(ctx.session, first=first, after=after)
            return FeedbackPage(
                items=[_item(r) for r in rows], end_cursor=rows[-1].number if rows else after, has_more=more
            )

        return await request.run(read)


@strawberry.type
class FeedbackMutation:
    @strawberry.mutation(description="Record a resident's feedback; needs feedback.submit.")
    async def feedback_submit(self, info: strawberry.Info, text: str) -> FeedbackItem:
        request = graphql_request(info)
        request.require_permission("feedback.submit")
        max_length = int(request.settings.get("max_length") or api.DEFAULT_MAX_LENGTH)

        def write(ctx: TenantContext) -> FeedbackItem:
            # one `run` = one transaction: the row, the event and the audit entry commit together
            row = api.submit(ctx, text=text, max_length=max_length)
            ctx.emit(api.SUBMITTED, {"number": row.number})
            ctx.audit("submitted", f"feedback/{row.number}")
            return _item(row)

        return await request.run(write)
