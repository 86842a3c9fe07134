"""The two media types ``/graphql`` answers in, and which one a client's ``Accept`` asks for.

Its own module because the HTTP layer needs it too: an error raised before GraphQL runs (a bad
token, a suspended tenant, a missing CSRF token) must still reach a GraphQL client as ``errors[]``
in the media type it accepts.
"""

from __future__ import annotations

from typing import Final

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
JSON: Final = "application/json"
#: The one path GraphQL is served at.
GRAPHQL_PATH: Final = "/graphql"


def negotiate(accept: str | None) -> str:
    """``application/graphql-response+json`` when accepted at least as much as JSON, else JSON."""
    if not accept:
        return JSON
    weights: dict[str, float] = {}
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[media.lower()] = weight
    preferred = weights.get(GRAPHQL_RESPONSE, 0.0)
    if preferred > 0 and preferred >= max(weights.get(JSON, 0.0), weights.get("application/*", 0.0)):
        return GRAPHQL_RESPONSE
    return JSON
