"""The hook implementations of feedback."""

from __future__ import annotations

from nentang.sdk import GraphQLContribution, hookimpl
from nentang_feedback.schema import FeedbackMutation, FeedbackQuery


@hookimpl
def nentang_graphql_contribute() -> GraphQLContribution:
    """The plugin's fields. Called once per worker and plugin version — not per tenant, not per
    request — so it returns the same classes whatever the tenant; per-tenant behaviour (settings,
    permissions) lives in the resolvers."""
    return GraphQLContribution(queries=(FeedbackQuery,), mutations=(FeedbackMutation,))
