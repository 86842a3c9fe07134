"""Helpers for the GraphQL tests of permissions, roles and grants: the documents they send, and
short calls for the steps that set a scene (a custom role, a grant) through the real API."""

from __future__ import annotations

from typing import Any

from tests.graphql_fixtures import GraphQL, codes

CREATE_ROLE = """mutation($input: CreateRoleInput!) { createRole(input: $input) {
    id name description kind declaredBy createdBy tenant { code } permissions { name } } }"""
UPDATE_ROLE = """mutation($input: UpdateRolePermissionsInput!) { updateRolePermissions(input: $input) {
    name updatedAt permissions { name } } }"""
DELETE_ROLE = """mutation($input: DeleteRoleInput!) { deleteRole(input: $input) { id name tenant { code } } }"""
ROLES = """query($tenant: String!, $first: Int!, $after: String) {
    roles(tenant: $tenant, first: $first, after: $after) {
    edges { node { name kind declaredBy tenant { code } permissions { name } } }
    pageInfo { hasNextPage endCursor } } }"""
GRANT_ROLE = """mutation($input: GrantRoleInput!) { grantRole(input: $input) {
    id principal grantedBy user { username } role { name } tenant { code } } }"""
REVOKE = "mutation($id: Int!) { revokeGrant(id: $id) { id principal role { name } tenant { code } } }"
GRANTS = """query($tenant: String!, $first: Int!, $after: String, $subtree: Boolean! = false, $principal: String) {
    grants(tenant: $tenant, first: $first, after: $after, subtree: $subtree, principal: $principal) {
        edges { node { id principal user { username } role { name } tenant { code } } }
        pageInfo { hasNextPage endCursor } } }"""


def principal_of(gql: GraphQL, token: str) -> str:
    """The principal (``token:<id>``) behind a bearer token."""
    principal: str = gql.data("{ me { principal } }", token=token)["me"]["principal"]
    return principal


def create_role(gql: GraphQL, tenant: str, name: str, *permissions: str, token: str | None = None) -> dict[str, Any]:
    role = {"tenant": tenant, "name": name, "permissions": list(permissions)}
    created: dict[str, Any] = gql.data(CREATE_ROLE, {"input": role}, token=token)["createRole"]
    return created


def roles_at(gql: GraphQL, tenant: str, first: int = 100, token: str | None = None) -> list[list[dict[str, Any]]]:
    """The pages of ``roles(tenant:)``, each a list of nodes."""
    pages, after = [], None
    while True:
        page = gql.data(ROLES, {"tenant": tenant, "first": first, "after": after}, token=token)["roles"]
        pages.append([edge["node"] for edge in page["edges"]])
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def grant_role(gql: GraphQL, tenant: str, role: str, token: str | None = None, **who: str) -> dict[str, Any]:
    """Grant ``role`` at ``tenant`` to ``principal=`` or ``username=``."""
    granted: dict[str, Any] = gql.data(GRANT_ROLE, {"input": {"tenant": tenant, "role": role, **who}}, token=token)[
        "grantRole"
    ]
    return granted


def grants_at(gql: GraphQL, tenant: str, token: str | None = None, **arguments: Any) -> list[dict[str, Any]]:
    """Every grant of a ``grants`` listing, following the pages."""
    found: list[dict[str, Any]] = []
    first, after = arguments.pop("first", 100), None
    while True:
        variables = {"tenant": tenant, "first": first, "after": after, **arguments}
        page = gql.data(GRANTS, variables, token=token)["grants"]
        found.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


def refused(gql: GraphQL, document: str, variables: dict[str, Any], token: str | None = None) -> str:
    """The one error code of an operation that must fail at its one field (which comes back null)."""
    response = gql.post(document, variables, token=token)
    body = response.json()
    assert response.status_code == 200 and list(body["data"].values()) == [None], body
    [code] = codes(response)
    return code
