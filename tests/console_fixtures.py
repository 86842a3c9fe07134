"""Helpers for the console's tests: sign in through the console's own form, read a page's form token.

Modules import the fixtures ``settings``, ``client`` and ``admin`` by name (a module-level
override of ``settings``, so they cannot be global plugins).

The console is driven as a browser with JavaScript off would drive it: GET a page, take the
``csrf_token`` from its form, POST the form URL-encoded, follow the 303.
"""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.runtime import Kernel
from nentang.kernel.settings import Settings
from tests.conftest import Tree
from tests.identity_fixtures import PASSWORD, identity_settings, make_admin

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Cheap password hashing, as in every identity test."""
    return identity_settings(database_url)


@pytest.fixture
def client(https_client: TestClient) -> TestClient:
    return https_client  # the session cookie is Secure: a browser sends it back only over https


@pytest.fixture
def admin(kernel: Kernel, tree: Tree) -> UserInfo:
    """The administrator of province 01 (the tree's first province)."""
    return make_admin(kernel, "admin.hanoi", "01", tree.p1.id)


def form_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def console_sign_in(client: TestClient, username: str, password: str = PASSWORD, next_path: str = "") -> str:
    """Sign in through ``/console/sign-in``; returns the session's form token (from the next page)."""
    page = client.get("/console/sign-in")
    assert page.status_code == 200, page.text
    fields = {"csrf_token": form_token(page.text), "username": username, "password": password, "next": next_path}
    response = client.post("/console/sign-in", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text
    landing = client.get(response.headers["location"])
    assert landing.status_code == 200, landing.text
    return form_token(landing.text)


def post_form(client: TestClient, path: str, token: str | None, **fields: str):  # type: ignore[no-untyped-def]
    data = dict(fields)
    if token is not None:
        data["csrf_token"] = token
    return client.post(path, data=data, follow_redirects=False)
