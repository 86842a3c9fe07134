"""Parity (#15 item 8): every console act is its GraphQL mutation's act — the same service function,
the same audit entry — and every console form post is refused without its CSRF token."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.testclient import TestClient
from strawberry.utils.str_converters import to_camel_case

from nentang.kernel.authz import permissions
from nentang.kernel.authz.models import Grant as GrantRow
from nentang.kernel.console.actions import ACTIONS
from nentang.kernel.console.app import console_mounts
from nentang.kernel.graphql.modules import KERNEL_MODULES
from nentang.kernel.identity.user_info import UserInfo
from nentang.kernel.plugins.context import tenant_ref
from nentang.kernel.runtime import Kernel
from tests import console_fixtures
from tests.conftest import Tree
from tests.console_fixtures import console_sign_in, form_token, post_form
from tests.graphql_fixtures import GraphQL, token_for
from tests.identity_fixtures import audit_entries

#: The console tests' fixtures (cheap hashing, https client, the administrator of 01).
settings, client, admin = console_fixtures.settings, console_fixtures.client, console_fixtures.admin


def mutation_resolvers() -> dict[str, Callable[..., Any]]:
    """Every kernel mutation field by its GraphQL name, with its resolver function."""
    found: dict[str, Callable[..., Any]] = {}
    for module in KERNEL_MODULES:
        for mutations in module.mutations:
            for field in mutations.__strawberry_definition__.fields:  # type: ignore[attr-defined]
                name = field.graphql_name or to_camel_case(field.python_name)
                found[name] = field.base_resolver.wrapped_func
    return found


def _with_helpers(resolver: Callable[..., Any]) -> str:
    """The resolver's source and that of the functions of its module it calls (``_manage``), and
    of those they call in turn (``_act`` → ``_managed``)."""
    module = inspect.getmodule(resolver)
    seen: set[Callable[..., Any]] = set()
    pending = [resolver]
    sources = []
    while pending:
        function = pending.pop()
        if function in seen:
            continue
        seen.add(function)
        source = inspect.getsource(function)
        sources.append(source)
        found = [getattr(module, n, None) for n in re.findall(r"\b(_?[a-z_]+)\(", source)]
        pending.extend(f for f in found if inspect.isfunction(f) and inspect.getmodule(f) is module)
    return "".join(sources)


def test_every_console_action_has_a_graphql_mutation_calling_the_same_service() -> None:
    resolvers = mutation_resolvers()
    assert ACTIONS, "the console registers its acts"
    for action in ACTIONS.values():
        assert action.graphql in resolvers, f"{action.name}: no GraphQL mutation {action.graphql!r}"
        source = inspect.getsource(resolvers[action.graphql])
        assert re.search(rf"kernel\.{re.escape(action.service)}[(,]", source), (
            f"{action.graphql} does not call kernel.{action.service}"
        )
        if action.permission is None:  # the service's own delegation check decides, for both
            continue
        constant = next(n for n, v in vars(permissions).items() if n.isupper() and v == action.permission)
        assert constant in _with_helpers(resolvers[action.graphql]), f"{action.graphql} checks no {constant}"


#: For each act: (console path, form fields, GraphQL mutation, variables), done on twin units — the
#: console on 00001 (and its person con.a), GraphQL on 00002 (and gql.a). ``{grant}`` is the twin's
#: newest grant, filled in when the act runs.
SCENARIOS: dict[str, tuple[str, dict[str, str], str, dict[str, Any]]] = {
    "unit.create": (
        "/t/01/console/units/00001/new",
        {"code": "VP-C", "name": "Văn phòng", "kind": "unit"},
        "mutation($i: CreateTenantInput!) { createTenant(input: $i) { code } }",
        {"i": {"code": "VP-G", "name": "Văn phòng", "parent": "00002", "kind": "UNIT"}},
    ),
    "unit.suspend": (
        "/t/01/console/units/00001/suspend",
        {"reason": "sáp nhập"},
        'mutation { suspendTenant(code: "00002", reason: "sáp nhập") { code } }',
        {},
    ),
    "unit.reactivate": (
        "/t/01/console/units/00001/reactivate",
        {},
        'mutation { reactivateTenant(code: "00002") { code } }',
        {},
    ),
    "user.create": (
        "/t/01/console/people/new",
        {"unit": "00001", "username": "con.a", "display_name": "A", "password": "none"},
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { username } } }",
        {"i": {"username": "gql.a", "displayName": "A", "homeTenant": "00002"}},
    ),
    "user.disable": (
        "/t/01/console/people/con.a/disable",
        {"reason": "nghỉ"},
        'mutation { disableUser(username: "gql.a", reason: "nghỉ") { username } }',
        {},
    ),
    "user.enable": (
        "/t/01/console/people/con.a/enable",
        {},
        'mutation { enableUser(username: "gql.a") { username } }',
        {},
    ),
    "grant.create": (
        "/t/01/console/people/con.a/grants",
        {"role": "viewer", "unit": "00001"},
        'mutation { grantRole(input: {role: "viewer", tenant: "00002", username: "gql.a"}) { id } }',
        {},
    ),
    "grant.revoke": (
        "/t/01/console/people/con.a/grants/{grant}/revoke",
        {},
        "mutation($id: Int!) { revokeGrant(id: $id) { id } }",
        {"id": "{grant}"},
    ),
    "role.create": (
        "/t/00001/console/roles/new",
        {"name": "thu-ky", "permissions": "kernel.users.read"},
        'mutation { createRole(input: {tenant: "00002", name: "thu-ky", permissions: ["kernel.users.read"]}) { id } }',
        {},
    ),
    "token.create": (
        "/t/00001/console/tokens/new",
        {"name": "LGSP", "roles": "viewer", "days": "30"},
        'mutation { createApiToken(input: {tenant: "00002", name: "LGSP", roles: ["viewer"], days: 30}) { secret } }',
        {},
    ),
    "token.revoke": (
        "/t/00001/console/tokens/{token}/revoke",
        {},
        "mutation($id: Int!) { revokeApiToken(id: $id) { id } }",
        {"id": "{token}"},
    ),
    "plugin.enable": (
        "/t/01/console/plugins/hello/enable",
        {"unit": "00001"},
        'mutation { enablePlugin(plugin: "hello", tenant: "00002") { enabled } }',
        {},
    ),
    "plugin.settings": (
        "/t/01/console/plugins/hello/settings",
        {"unit": "00001", "setting-greeting": "Chào"},
        'mutation { updatePluginSettings(plugin: "hello", tenant: "00002", settings: {greeting: "Chào"}) { enabled } }',
        {},
    ),
    "plugin.disable": (
        "/t/01/console/plugins/hello/disable",
        {"unit": "00001"},
        'mutation { disablePlugin(plugin: "hello", tenant: "00002") { enabled } }',
        {},
    ),
    "plugin.policy": (
        "/t/01/console/plugins/hello/policy",
        {"unit": "00001", "allowed": "no"},
        'mutation { setPluginPolicy(plugin: "hello", tenant: "00002", allowed: false) { name } }',
        {},
    ),
    "plugin.release": (  # {quarantine}: hello is quarantined at both twins first
        "/t/01/console/plugins/hello/release{quarantine}",
        {"unit": "00001"},
        'mutation { releasePlugin(plugin: "hello", tenant: "00002") { released } }',
        {},
    ),
}


def test_every_console_action_has_a_parity_scenario() -> None:
    assert set(SCENARIOS) == set(ACTIONS)


def _newest_grant(kernel: Kernel, username: str) -> int:
    with kernel.db.platform() as session:
        user = kernel.users.get(username)
        return max(session.scalars(select(GrantRow.id).where(GrantRow.principal == user.principal)), default=0)


def _token_of(kernel: Kernel, code: str) -> int:
    (token,) = kernel.tokens.list_as_operator(code)
    return token.id


def test_console_and_graphql_leave_the_same_audit_entries(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    token = console_sign_in(client, "admin.hanoi")
    graphql = GraphQL(client, token=token_for(kernel, "01", "admin"))
    for name, (path, fields, mutation, variables) in SCENARIOS.items():
        if "{grant}" in path:
            path = path.replace("{grant}", str(_newest_grant(kernel, "con.a")))
            variables = {"id": _newest_grant(kernel, "gql.a")}
        if "{quarantine}" in path:
            path = path.replace("{quarantine}", "")
            for twin in (tree.c1, tree.c2):
                for _ in range(kernel.plugins.budget.budget):
                    kernel.plugins.budget.failed("hello", tenant_ref(twin), RuntimeError("down"))
        if "{token}" in path:
            path = path.replace("{token}", str(_token_of(kernel, "00001")))
            variables = {"id": _token_of(kernel, "00002")}
        response = post_form(client, path, token, **fields)
        assert response.status_code in (200, 303), (name, response.text)
        graphql.data(mutation, variables)

    def trail(tenant_id: int) -> list[tuple[str, list[str]]]:
        return [(action, sorted(detail)) for action, _actor, _target, detail in audit_entries(kernel, tenant_id)]

    assert trail(tree.c1.id) == trail(tree.c2.id)
    done = {action for action, _keys in trail(tree.c1.id)}
    assert {
        "tenant.suspend",
        "tenant.reactivate",
        "user.create",
        "user.disable",
        "grant.create",
        "token.create",
        "plugin.enable",
        "plugin.settings",
        "plugin.disable",
        "plugin.release",
        "plugin.policy",
    } <= done
    created_c = audit_entries(kernel, kernel.tenants.get("VP-C").id)[0]
    created_g = audit_entries(kernel, kernel.tenants.get("VP-G").id)[0]
    assert created_c[0] == created_g[0] == "tenant.create" and created_c[3].keys() == created_g[3].keys()


def _post_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    for route in routes:
        if isinstance(route, Mount):
            inner = route.app
            while not isinstance(inner, Router) and hasattr(inner, "app"):
                inner = inner.app
            if isinstance(inner, Router):
                yield from _post_routes(inner.routes, prefix + route.path)
        elif isinstance(route, Route) and route.methods and "POST" in route.methods:
            yield prefix + route.path


def test_every_console_form_post_is_refused_without_its_token(
    client: TestClient, kernel: Kernel, tree: Tree, admin: UserInfo
) -> None:
    paths = sorted(_post_routes(console_mounts(kernel)))
    assert "/console/sign-in" in paths and "/t/{tenant}/console/units/{unit}/suspend" in paths
    console_sign_in(client, "admin.hanoi")
    for pattern in paths:
        path = pattern.replace("{tenant}", "01").replace("{unit}", "00001")
        for token in (None, "not-the-token"):
            response = post_form(client, path, token, code="X", name="X", kind="unit")
            assert response.status_code == 403 and "Biểu mẫu đã hết hạn" in response.text, path
    assert client.get("/t/01/console/").status_code == 200  # still signed in: sign-out was refused too
    assert form_token(client.get("/t/01/console/").text)
