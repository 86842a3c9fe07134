"""A GET whose query string is near or over the GraphQL limit gets the endpoint's coded answer from a
real HTTP server (uvicorn's h11 parser on loopback), not a bare 400 and a closed connection."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from nentang.kernel.cli.serve import request_head_limit
from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.runtime import Kernel
from tests.conftest import Tree
from tests.graphql_fixtures import GRAPHQL_RESPONSE, token_for
from tests.loopback_server import serving

LIMIT = GraphQLSettings().max_body_bytes


@pytest.fixture
def base_url(kernel: Kernel) -> Iterator[str]:
    with serving(kernel) as url:
        yield url


def get(base_url: str, token: str, padding: int) -> tuple[int, Any]:
    # http.client, not httpx: httpx refuses to build a URL over 64 KiB before sending anything
    query = urlencode({"query": "{ me { principal } }" + " " * padding})
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=20)
    try:
        connection.request(
            "GET", f"/graphql?{query}", headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_get_within_the_limit_but_over_h11s_default_is_served(base_url: str, kernel: Kernel, tree: Tree) -> None:
    status, body = get(base_url, token_for(kernel, "01", "admin"), padding=100_000)  # 16 KiB < this < LIMIT
    assert status == 200
    assert body["data"]["me"]["principal"].startswith("token:")


def test_a_get_over_the_limit_gets_413_with_its_code(base_url: str, kernel: Kernel, tree: Tree) -> None:
    status, body = get(base_url, token_for(kernel, "01", "admin"), padding=LIMIT + 1_000)
    assert status == 413
    assert body["errors"][0]["extensions"]["code"] == "graphql.body_too_large"


def test_the_head_limit_leaves_room_for_headers_over_twice_the_body_limit() -> None:
    assert request_head_limit(LIMIT) > 2 * LIMIT
