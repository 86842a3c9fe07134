"""``/graphql`` over HTTP: media types and status codes per GraphQL-over-HTTP, authentication and
the request's tenant, and every kind of bad input — each a GraphQL error with a code, the right
status, and nothing changed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from nentang.kernel.graphql import cost
from nentang.kernel.graphql.config import GraphQLSettings
from nentang.kernel.graphql.persisted import sha256
from nentang.kernel.http.app import create_app
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.sdk.errors import ValidationFailed
from tests.conftest import TEST_SECRETS_KEY, Tree
from tests.graphql_fixtures import GRAPHQL_RESPONSE, GraphQL, codes, token_for
from tests.identity_fixtures import PASSWORD, actions, identity_settings, make_admin, make_user

JSON = "application/json"
CREATE = 'mutation { createTenant(input: {code: "X9", name: "Ban X", parent: "01"}) { code } }'


@pytest.fixture
def settings(database_url: str) -> Settings:
    return identity_settings(database_url)


@pytest.fixture
def http(kernel: Kernel) -> Iterator[TestClient]:
    with TestClient(create_app(kernel), base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def admin_token(kernel: Kernel, tree: Tree) -> str:
    return token_for(kernel, "01", "admin")


@pytest.fixture
def gql(http: TestClient, admin_token: str) -> GraphQL:
    return GraphQL(http, token=admin_token)


def raw(http: TestClient, body: bytes, token: str, accept: str = GRAPHQL_RESPONSE, **headers: str) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Accept": accept, "Content-Type": JSON, **headers}
    return http.post("/graphql", content=body, headers=headers)


def tenant_codes(kernel: Kernel) -> set[str]:
    return set(kernel.tenants.codes_by_id().values())


# -- the happy path and content negotiation ---------------------------------------------------------


def test_a_query_over_post_and_over_get(gql: GraphQL) -> None:
    post = gql.post("{ me { principal method tenant { code } } }")
    assert post.status_code == 200 and post.headers["content-type"] == GRAPHQL_RESPONSE
    assert post.json()["data"]["me"]["method"] == "TOKEN" and post.json()["data"]["me"]["tenant"] == {"code": "01"}
    get = gql.get({"query": "query Q($c: String!) { tenant(code: $c) { name } }", "variables": '{"c": "01"}'})
    assert get.status_code == 200 and get.json() == {"data": {"tenant": {"name": "Thành phố Hà Nội"}}}


@pytest.mark.parametrize(
    ("accept", "served"),
    [
        (None, JSON),
        ("*/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", JSON),
    ],
)
def test_the_response_media_type_follows_accept(gql: GraphQL, accept: str | None, served: str) -> None:
    response = gql.post("{ me { principal } }", accept=accept)
    assert response.status_code == 200 and response.headers["content-type"] == served


# -- bad input --------------------------------------------------------------------------------------


def deep(levels: int) -> str:
    return '{ tenant(code: "00001") { ' + "parent { " * levels + "code" + " }" * levels + " } }"


COST = "{ tenants(first: 100) { edges { node { children(first: 100) { edges { node { children(first: 100) { edges { node { code } } } } } } } } } }"  # noqa: E501

#: (name, body, status with application/graphql-response+json, status with application/json, code)
BAD_DOCUMENTS = [
    ("syntax error", {"query": "{ me { principal }"}, 400, 200, "graphql.syntax_error"),
    ("unknown field", {"query": "{ me { principal shoeSize } }"}, 400, 200, "graphql.validation_failed"),
    ("missing argument", {"query": "{ tenants { edges { cursor } } }"}, 400, 200, "graphql.validation_failed"),
    ("depth", {"query": deep(16)}, 400, 200, "graphql.depth_limit"),
    (
        "aliases",
        {"query": "{ " + " ".join(f"a{i}: me {{ principal }}" for i in range(31)) + " }"},
        400,
        200,
        "graphql.alias_limit",
    ),
    ("tokens", {"query": "{ me { " + "principal " * 6000 + "} }"}, 400, 200, "graphql.token_limit"),
    ("cost", {"query": COST}, 400, 200, "graphql.cost_limit"),
    ("page size", {"query": "{ tenants(first: 101) { edges { cursor } } }"}, 400, 200, "graphql.page_size"),
    (
        "page size in a variable",
        {"query": "query($n: Int!) { tenants(first: $n) { edges { cursor } } }", "variables": {"n": 5000}},
        400,
        200,
        "graphql.page_size",
    ),
    (
        "variables that do not coerce",
        {"query": "query($c: String!) { tenant(code: $c) { code } }", "variables": {}},
        400,
        200,
        "graphql.bad_variables",
    ),
    (
        "unknown operation",
        {"query": "query A { me { principal } }", "operationName": "B"},
        400,
        200,
        "graphql.operation_not_found",
    ),
    # an escape in a GraphQL string decodes to NUL: PostgreSQL would fail the resolver on it
    ("NUL in a literal", {"query": '{ tenant(code: "0\\u00001") { code } }'}, 400, 200, "graphql.invalid_text"),
]
TENANT_BY_CODE = '"query": "query($c: String!) { tenant(code: $c) { code } }"'
BAD_TEXT = [
    ("NUL in a variable", f'{{{TENANT_BY_CODE}, "variables": {{"c": "0\\u00001"}}}}', "variables.c"),
    ("lone surrogate in a variable", f'{{{TENANT_BY_CODE}, "variables": {{"c": "\\ud800"}}}}', "variables.c"),
    ("lone surrogate in the query", '{"query": "{ tenant(code: \\"\\udfff\\") { code } }"}', "query"),
    ("NUL in a key", f'{{{TENANT_BY_CODE}, "variables": {{"c": "01", "x\\u0000": 1}}}}', "variables (a key)"),
    (
        "variables nested 1,000 deep",
        f'{{{TENANT_BY_CODE}, "variables": {{"c": "01", "x": {"[" * 1000}{"]" * 1000}}}}}',
        None,
    ),
    ("variables nested 65 deep", f'{{{TENANT_BY_CODE}, "variables": {{"c": "01", "x": {"[" * 65}{"]" * 65}}}}}', None),
    ("a body nested 100,000 deep", "[" * 100_000 + "]" * 100_000, None),
]
BAD_REQUESTS = [
    ("malformed JSON", b'{"query": "{ me { principal } }"', 400, "graphql.malformed_json"),
    ("not an object", b"[1, 2]", 400, "graphql.bad_request"),
    ("no query", b"{}", 400, "graphql.bad_request"),
    ("query not a string", b'{"query": {"me": 1}}', 400, "graphql.bad_request"),
    ("variables not an object", b'{"query": "{ me { principal } }", "variables": [1]}', 400, "graphql.bad_request"),
    (
        "huge body",
        json.dumps({"query": "{ me { principal } }", "x": "a" * 300_000}).encode(),
        413,
        "graphql.body_too_large",
    ),
]


@pytest.mark.parametrize(("name", "body", "status", "legacy", "code"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
def test_a_bad_document_is_a_coded_error_with_the_status_of_its_media_type(
    gql: GraphQL, name: str, body: dict[str, Any], status: int, legacy: int, code: str
) -> None:
    for accept, expected in ((GRAPHQL_RESPONSE, status), (JSON, legacy)):
        rest = {k: v for k, v in body.items() if k not in ("query", "variables")}
        response = gql.post(body["query"], body.get("variables"), accept=accept, **rest)
        assert response.status_code == expected, (name, response.text[:300])
        assert "data" not in response.json() and codes(response) == [code], (name, response.text[:300])
        assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize(("name", "body", "status", "code"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_a_request_that_is_not_well_formed_gets_a_4xx_whatever_the_media_type(
    http: TestClient, admin_token: str, name: str, body: bytes, status: int, code: str
) -> None:
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = raw(http, body, admin_token, accept)
        assert response.status_code == status and response.headers["content-type"] == accept, name
        assert "data" not in response.json() and codes(response) == [code], name


@pytest.mark.parametrize(("name", "body", "where"), BAD_TEXT, ids=[b[0] for b in BAD_TEXT])
def test_text_no_store_could_keep_is_refused_with_where_it_is(
    http: TestClient, admin_token: str, name: str, body: str, where: str | None
) -> None:
    for accept in (GRAPHQL_RESPONSE, JSON):
        response = raw(http, body.encode(), admin_token, accept)
        assert response.status_code == 400 and codes(response) == ["graphql.invalid_text"], (name, response.text)
        error = response.json()["errors"][0]
        assert ("NUL" in error["message"] or "surrogate" in error["message"]) if where else "deeper" in error["message"]
        if where is not None:
            assert error["extensions"]["where"] == where


def test_text_over_get_is_checked_too(http: TestClient, admin_token: str) -> None:
    query = "query($c: String!) { tenant(code: $c) { code } }"
    response = http.get(
        "/graphql",
        params={"query": query, "variables": '{"c": "0\\u00001"}'},
        headers={"Authorization": f"Bearer {admin_token}", "Accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 400 and codes(response) == ["graphql.invalid_text"]


def test_wrong_method_and_media_type_and_a_mutation_over_get(http: TestClient, gql: GraphQL, admin_token: str) -> None:
    put = http.put(
        "/graphql", json={"query": "{ me { principal } }"}, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert put.status_code == 405 and codes(put) == ["graphql.method_not_allowed"] and "POST" in put.headers["allow"]
    text = raw(http, b"{ me { principal } }", admin_token, **{"Content-Type": "application/graphql"})
    assert text.status_code == 415 and codes(text) == ["graphql.unsupported_media_type"]
    mutation = gql.get({"query": CREATE})
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"
    assert codes(mutation) == ["graphql.method_not_allowed"]


def test_bad_input_changes_nothing(
    http: TestClient, gql: GraphQL, kernel: Kernel, tree: Tree, admin_token: str
) -> None:
    viewer = token_for(kernel, "01", "viewer")
    before = (tenant_codes(kernel), actions(kernel, tree.p1.id))
    attempts = [
        gql.post(CREATE[:-3]),  # syntax error
        gql.post(CREATE.replace("{ code }", "{ code shoeSize }")),  # unknown field
        gql.post(CREATE, operationName="Nope"),
        gql.get({"query": CREATE}),
        raw(http, json.dumps({"query": CREATE, "pad": "a" * 300_000}).encode(), admin_token),
        raw(http, json.dumps({"query": CREATE}).encode()[:-2], admin_token),
        gql.post(CREATE, tenant="02"),  # foreign X-Tenant for this token
        gql.post(CREATE, anonymous=True, tenant="01"),
        gql.post(CREATE, token=viewer),  # no permission
    ]
    assert all("errors" in a.json() for a in attempts)
    after = (tenant_codes(kernel), actions(kernel, tree.p1.id))
    # Nothing changed but the record of the two attempts that were security events: the admin token
    # sent for another tenant, and the viewer's mutation without the permission.
    assert after[0] == before[0] and after[1][: len(before[1])] == before[1]
    assert sorted(after[1][len(before[1]) :]) == ["graphql.refused", "graphql.tenant_refused"]


def test_field_suggestions_are_shown_in_development_and_hidden_in_production(
    gql: GraphQL, settings: Settings, tree: Tree
) -> None:
    typo = '{ tenantz(code: "01") { code } }'
    assert "Did you mean 'tenant'" in gql.post(typo).json()["errors"][0]["message"]
    production = create_kernel(settings.with_overrides(mode="production", secrets_key=TEST_SECRETS_KEY))
    try:
        with TestClient(create_app(production), raise_server_exceptions=False) as http:
            response = GraphQL(http).post(typo, token=token_for(production, "01", "viewer"))
            assert response.json()["errors"][0]["message"] == "Cannot query field 'tenantz' on type 'Query'."
    finally:
        production.close()


# -- who calls, for which tenant -------------------------------------------------------------------


def test_a_token_acts_for_its_own_tenant_and_a_foreign_x_tenant_is_refused(gql: GraphQL) -> None:
    assert gql.data("{ me { tenant { code } } }", tenant="01") == {"me": {"tenant": {"code": "01"}}}
    for accept in (GRAPHQL_RESPONSE, JSON):
        foreign = gql.post("{ me { principal } }", tenant="00001", accept=accept)
        assert foreign.status_code == 403 and codes(foreign) == ["tenant.mismatch"]
        assert "bound to tenant '01'" in foreign.json()["errors"][0]["message"]


def test_without_a_token_the_tenant_must_be_named_and_exist(gql: GraphQL) -> None:
    missing = gql.post("{ me { principal } }", anonymous=True)
    assert missing.status_code == 400 and codes(missing) == ["tenant.required"]
    unknown = gql.post("{ me { principal } }", anonymous=True, tenant="99")
    assert unknown.status_code == 400 and codes(unknown) == ["tenant.not_found"]


def test_a_suspended_tenant_and_the_tenants_below_it_are_refused(gql: GraphQL, kernel: Kernel, tree: Tree) -> None:
    commune = token_for(kernel, "00001", "viewer")
    assert gql.data("{ me { principal } }", token=commune)
    assert gql.data("{ me { principal } }", anonymous=True, tenant="00002")  # both now cached by the worker
    central = token_for(kernel, "TW", "admin")
    gql.data('mutation { suspendTenant(code: "01", reason: "sáp nhập") { status } }', token=central)
    for tenant in ("01", "00002"):
        refused = gql.post("{ me { principal } }", anonymous=True, tenant=tenant)
        assert refused.status_code == 403 and codes(refused) == ["tenant.unavailable"]
    assert gql.post("{ me { principal } }", token=commune).status_code == 403  # its token is refused too
    assert gql.data("{ me { principal } }", token=central, tenant="TW")  # above the suspension: serving
    gql.data('mutation { reactivateTenant(code: "01") { status } }', token=central)
    assert gql.data("{ me { principal } }", token=commune)


def test_anonymous_callers_get_public_fields_only_and_no_introspection(gql: GraphQL) -> None:
    me = gql.data("{ __typename me { authenticated principal method permissions } }", anonymous=True, tenant="01")
    assert me == {
        "__typename": "Query",
        "me": {"authenticated": False, "principal": "anonymous", "method": "ANONYMOUS", "permissions": []},
    }
    for query, code in (
        ("{ tenants(first: 1) { edges { cursor } } }", "auth.required"),
        (CREATE, "auth.required"),
        ("{ __schema { types { name } } }", "graphql.introspection_disabled"),
        ('{ __type(name: "Tenant") { name } }', "graphql.introspection_disabled"),
        ('query { ...F } fragment F on Query { tenant(code: "01") { code } }', "auth.required"),
    ):
        refused = gql.post(query, anonymous=True, tenant="01")
        assert refused.status_code == 401 and codes(refused) == [code], query
        assert refused.headers["www-authenticate"] == "Bearer"
        legacy = gql.post(query, anonymous=True, tenant="01", accept=JSON)
        assert legacy.status_code == 200 and codes(legacy) == [code]
    assert gql.data("{ __schema { queryType { name } } }") == {"__schema": {"queryType": {"name": "Query"}}}


def test_a_signed_in_user_names_a_tenant_where_they_stand(http: TestClient, kernel: Kernel, tree: Tree) -> None:
    make_admin(kernel, "admin.hanoi", "01", tree.p1.id)
    make_user(kernel, "clerk.tq", "02")
    login = http.post("/auth/login", json={"username": "admin.hanoi", "password": PASSWORD})
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    gql = GraphQL(http, headers=csrf)
    me = gql.data("{ me { method user { username } tenant { code } } }", tenant="00002")
    assert me == {"me": {"method": "SESSION", "user": {"username": "admin.hanoi"}, "tenant": {"code": "00002"}}}
    assert codes(gql.post("{ me { principal } }")) == ["tenant.required"]
    foreign = gql.post("{ me { principal } }", tenant="02")
    assert foreign.status_code == 403 and codes(foreign) == ["tenant.forbidden"]
    no_csrf = http.post("/graphql", json={"query": "{ me { principal } }"}, headers={"X-Tenant": "01"})
    assert no_csrf.status_code == 403 and codes(no_csrf) == ["auth.csrf"]
    http.post("/auth/logout", headers=csrf)
    login = http.post("/auth/login", json={"username": "clerk.tq", "password": PASSWORD})
    clerk = GraphQL(http, headers={"X-CSRF-Token": login.json()["csrf_token"]})
    # No role anywhere, but 02 is the clerk's home tenant: the clerk stands there and below it.
    assert clerk.data("{ me { user { username } } }", tenant="00003") == {"me": {"user": {"username": "clerk.tq"}}}
    assert codes(clerk.post("{ me { principal } }", tenant="01")) == ["tenant.forbidden"]


# -- persisted queries ---------------------------------------------------------------------------------


NAME_QUERY = "query TenantName($code: String!) { tenant(code: $code) { name } }"


def registry(tmp_path: Path) -> Path:
    path = tmp_path / "persisted.json"
    path.write_text(json.dumps({"operations": [{"name": "TenantName", "body": NAME_QUERY}]}))
    return path


def persisted_app(settings: Settings, tmp_path: Path, *, only: bool) -> tuple[Kernel, GraphQLSettings]:
    graphql = GraphQLSettings(persisted_queries_path=registry(tmp_path), persisted_queries_only=only)
    return create_kernel(settings.with_overrides(graphql=graphql)), graphql


@pytest.mark.parametrize("only", [False, True])
def test_persisted_queries_run_by_hash_and_can_be_required(
    settings: Settings, tmp_path: Path, tree: Tree, only: bool
) -> None:
    kernel, _ = persisted_app(settings, tmp_path, only=only)
    try:
        with TestClient(create_app(kernel), raise_server_exceptions=False) as http:
            gql = GraphQL(http, token=token_for(kernel, "01", "viewer"))
            by_hash = {"persistedQuery": {"version": 1, "sha256Hash": sha256(NAME_QUERY)}}
            variables = {"code": "01"}
            assert gql.data(None, variables, extensions=by_hash) == {"tenant": {"name": "Thành phố Hà Nội"}}
            assert gql.data(NAME_QUERY, variables, extensions=by_hash)["tenant"]["name"] == "Thành phố Hà Nội"
            assert gql.data(NAME_QUERY, variables)["tenant"]["name"] == "Thành phố Hà Nội"  # registered text
            unknown = gql.post(None, extensions={"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}})
            assert unknown.status_code == 400 and codes(unknown) == ["graphql.persisted_query_not_found"]
            mismatch = gql.post("{ me { principal } }", extensions=by_hash)
            assert mismatch.status_code == 400 and codes(mismatch) == ["graphql.persisted_query_mismatch"]
            free_text = gql.post("{ me { principal } }")
            if only:
                assert free_text.status_code == 400 and codes(free_text) == ["graphql.persisted_query_required"]
            else:
                assert free_text.status_code == 200 and "errors" not in free_text.json()
    finally:
        kernel.close()


def test_a_broken_registry_stops_the_app_with_every_problem_named(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "persisted.json"
    path.write_text(
        json.dumps({"operations": [{"name": "A"}, {"name": "B", "body": "{ me { principal } }", "sha256": "0"}]})
    )
    kernel = create_kernel(settings.with_overrides(graphql=GraphQLSettings(persisted_queries_path=path)))
    try:
        with pytest.raises(Exception, match=r"operations\[0\].*body.*operations\[1\] \(B\): sha256 is"):
            create_app(kernel)
    finally:
        kernel.close()


# -- the document cache and pathological documents ---------------------------------------------------


def test_a_repeated_document_is_parsed_and_validated_once_per_schema(
    http: TestClient, gql: GraphQL, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nentang.kernel.graphql import documents

    validations: list[object] = []
    real = documents.validate
    monkeypatch.setattr(documents, "validate", lambda *a, **k: validations.append(a) or real(*a, **k))
    query = "query($c: String!) { tenant(code: $c) { name } }"
    for code in ("01", "00001", "00002"):
        assert gql.data(query, {"c": code})["tenant"]["name"]
    assert len(validations) == 1
    served = http.app.state.graphql.served_for(tree.p1.id)  # type: ignore[attr-defined]
    assert served.documents.get(query) is not None


def test_fragments_spread_into_each_other_cost_no_more_than_the_document_is_long(gql: GraphQL) -> None:
    levels = 40
    fragments = ["fragment F0 on Tenant { code }"] + [
        f"fragment F{i} on Tenant {{ parent {{ ...F{i - 1} }} ancestors {{ ...F{i - 1} }} }}" for i in range(1, levels)
    ]
    query = f'{{ tenant(code: "01") {{ ...F{levels - 1} }} }} ' + " ".join(fragments)
    started = time.monotonic()
    refused = gql.post(query)
    assert time.monotonic() - started < 5
    assert refused.status_code == 400 and codes(refused) == ["graphql.depth_limit"]


@pytest.mark.parametrize("fan_out", [2, 4])
def test_fragments_spread_side_by_side_are_planned_once_and_refused_by_cost(
    gql: GraphQL, tree: Tree, fan_out: int
) -> None:
    # Each fragment spreads the one below it fan_out times at the same depth: the document is
    # ~1 KB, the operation it denotes has fan_out ** levels fields. The plan must stay as long as
    # the document (one node per fragment), and the refusal names the real cost.
    levels = 24 if fan_out == 2 else 12
    fragments = ["fragment F0 on Tenant { code name }"] + [
        f"fragment F{i} on Tenant {{ {' '.join([f'...F{i - 1}'] * fan_out)} code }}" for i in range(1, levels)
    ]
    query = f'{{ tenant(code: "01") {{ ...F{levels - 1} }} }} ' + " ".join(fragments)
    assert len(query) < 1100

    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    schema = gql.http.app.state.graphql.served_for(tree.p1.id).schema  # type: ignore[attr-defined]
    plan = cost.plan(schema, document, operation, max_page_size=100)
    assert plan_size(plan.root) <= (fan_out + 1) * levels + 2
    expected = 1 + sum(fan_out**i for i in range(levels - 1)) + 2 * fan_out ** (levels - 1)  # tenant, codes, F0
    assert plan.fixed == expected

    refused = gql.post(query)
    assert refused.status_code == 400 and codes(refused) == ["graphql.cost_limit"]
    assert refused.json()["errors"][0]["extensions"]["cost"] == expected


def plan_size(node: cost.CostNode, seen: set[int] | None = None) -> int:
    """Terms in a plan, each shared node counted once."""
    seen = set() if seen is None else seen
    if id(node) in seen:
        return 0
    seen.add(id(node))
    return len(node.terms) + sum(plan_size(child, seen) for *_, child in node.terms if child is not None)


def test_a_failure_outside_any_resolver_is_masked_in_the_graphql_shape(
    gql: GraphQL, http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = http.app.state.graphql  # type: ignore[attr-defined]

    def broken(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(engine.persisted, "resolve", broken)
    with capture_logs() as logs:
        response = gql.post("{ me { principal } }")
    assert response.status_code == 500 and codes(response) == ["internal"] and "fire" not in response.text
    [logged] = [e for e in logs if e["event"] == "graphql.unexpected_error"]
    assert logged["error_id"] == response.json()["errors"][0]["extensions"]["errorId"]


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"NENTANG_GRAPHQL_MAX_DEPTH": "deep"}, "NENTANG_GRAPHQL_MAX_DEPTH must be a whole number"),
        ({"NENTANG_GRAPHQL_MAX_COST": "0"}, "graphql.max_cost must be at least 1"),
        ({"NENTANG_GRAPHQL_PERSISTED_ONLY": "true"}, "persisted_queries_only needs a registry"),
        ({"NENTANG_GRAPHQL_PERSISTED_ONLY": "maybe"}, "NENTANG_GRAPHQL_PERSISTED_ONLY must be 'true' or 'false'"),
    ],
)
def test_graphql_settings_from_the_environment_name_what_is_wrong(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ValidationFailed, match=problem):
        Settings.from_environ(environ)


def test_graphql_settings_from_the_environment() -> None:
    settings = Settings.from_environ(
        {
            "NENTANG_GRAPHQL_MAX_PAGE_SIZE": "50",
            "NENTANG_GRAPHQL_MAX_BODY_BYTES": "65536",
            "NENTANG_GRAPHQL_PERSISTED_QUERIES": "/etc/nentang/persisted.json",
            "NENTANG_GRAPHQL_PERSISTED_ONLY": "yes",
        }
    ).graphql
    assert (settings.max_page_size, settings.max_body_bytes, settings.max_depth) == (50, 65536, 15)
    assert settings.persisted_queries_path == Path("/etc/nentang/persisted.json") and settings.persisted_queries_only
