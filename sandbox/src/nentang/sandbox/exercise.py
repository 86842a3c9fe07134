"""Running every entry point of the plugin under the trace, after the lifecycle checks.

Called by the contract suite once the plugin is enabled at each level it allows:

- **GraphQL**: every query and mutation field the plugin contributes is called over the kernel's
  real HTTP app, with arguments generated from the schema (:mod:`nentang.sandbox.arguments`), as a
  user holding every permission the plugin declares at the tenant where it is enabled, then
  anonymously. A GraphQL error with a code of its own (``permission.denied``, a validation
  refusal) is the plugin's answer, not a finding; a 5xx answer is ``graphql.server_error``, an
  unhandled exception in a resolver ``graphql.crashed`` and a resolver stopped at the platform's
  deadline ``graphql.timeout``, each naming the field;
- **hooks**: every hook the plugin implements is called once more through the kernel's dispatcher
  with the arguments its specification names, in a transaction rolled back; events of every
  type seen in the outbox (the plugin's own included) are delivered to it. A hook that raises
  something other than an SDK error is ``contract.hook_failed``, naming the hook.

Each call runs inside :meth:`~nentang.sandbox.trace.Tracer.entering`, so what the trace records
names the field or hook that did it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from nentang.sandbox import arguments

if TYPE_CHECKING:
    from nentang.sandbox.contract import ContractSuite

#: Hooks called on their own paths: the schema build, event delivery.
_CALLED_ELSEWHERE: Final = frozenset({"nentang_graphql_contribute", "nentang_event_received"})
REVIEW_USER: Final = "review-all-permissions"


def run(suite: ContractSuite) -> None:
    where = _subject(suite)
    if where is None:
        return  # enabled nowhere: the lifecycle findings say why
    _graphql(suite, where)
    _hooks(suite, where)


def _subject(suite: ContractSuite) -> str | None:
    """The tenant the plugin is exercised at: the lowest level where it is enabled."""
    for code in ("00001", "01", "TW"):
        if code in suite.enabled:
            return code
    return None


# -- GraphQL ---------------------------------------------------------------------------------------


def _graphql(suite: ContractSuite, code: str) -> None:
    from starlette.testclient import TestClient

    from nentang.kernel.graphql.contributions import Contributions
    from nentang.kernel.http.app import create_app

    kernel = suite.kernel
    loaded = kernel.plugins.host.plugins[suite.name]
    part = Contributions(kernel.plugins.host).part(suite.name, loaded.version)
    if part.problems:
        suite._add("graphql.left_out", suite.name, "; ".join(part.problems)[:500], "warning")
        return
    if not (part.query_fields or part.mutation_fields):
        return
    app = create_app(kernel)
    with TestClient(app, raise_server_exceptions=False) as client:
        schema = app.state.graphql.served_for(suite.tenant_ids[code]).schema
        user = _user_with_every_permission(suite, code)
        callers = [("a user with every permission", user), ("anonymous", None)]
        calls = 0
        for operation, root, names in (
            ("query", schema.query_type, part.query_fields),
            ("mutation", schema.mutation_type, part.mutation_fields),
        ):
            for name in sorted(names):
                field = root.fields[name] if root is not None and name in root.fields else None
                if field is None:
                    suite._add("graphql.not_served", f"{operation} {name}", "the field is missing from the schema")
                    continue
                text = arguments.document(operation, name, field)
                for who, user_id in callers:
                    for variables in arguments.argument_sets(field):
                        headers = _headers(suite, user_id, code)
                        body = {"query": text, "variables": variables}
                        with suite.tracer.entering(f"{operation} {name}"):
                            response = client.post("/graphql", json=body, headers=headers)
                        calls += 1
                        if _judge(suite, f"{operation} {name}", who, response):
                            break  # one finding per field and caller is enough
    suite.timings["contract.graphql_calls"] = calls


def _user_with_every_permission(suite: ContractSuite, code: str) -> int:
    """A user at ``code`` granted a role holding every permission the plugin declares."""
    from nentang.kernel.authz.models import Role, RolePermission
    from nentang.kernel.propagation import topics
    from nentang.kernel.propagation.versions import bump

    kernel = suite.kernel
    info = kernel.users.create_user_as_operator(
        suite.actor, username=REVIEW_USER, display_name="Review", home_tenant_code=code
    )
    wanted = sorted(p.name for p in kernel.plugins.host.plugins[suite.name].manifest.permissions)
    if wanted:
        tenant_id = suite.tenant_ids[code]
        with kernel.db.platform() as session, session.begin():
            role = Role(
                tenant_id=tenant_id, name="review.all", description="review", declared_by="custom", created_by="review"
            )
            session.add(role)
            session.flush()
            for permission in wanted:
                session.add(RolePermission(role_id=role.id or 0, permission=permission))
            session.flush()
            bump(session, topics.AUTHZ, f"role:{role.id}")
            kernel.authz.grant_as_operator(
                session, actor=suite.actor, principal=info.principal, role="review.all", tenant_id=tenant_id
            )
    return info.id


def _headers(suite: ContractSuite, user_id: int | None, code: str) -> dict[str, str]:
    headers = {"X-Tenant": code}
    if user_id is not None:
        opened = suite.kernel.sessions.create(user_id)  # a session each call: a field may sign the caller out
        headers["Cookie"] = f"{suite.kernel.settings.identity.session_cookie_name}={opened.cookie_value}"
        headers["X-CSRF-Token"] = opened.csrf_token
    return headers


def _judge(suite: ContractSuite, where: str, who: str, response: Any) -> bool:
    """Report a 5xx answer or an unhandled exception; ``True`` when it did."""
    if response.status_code >= 500:
        suite._add("graphql.server_error", where, f"called as {who}: HTTP {response.status_code} {response.text[:200]}")
        return True
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        suite._add("graphql.server_error", where, f"called as {who}: the answer is not JSON")
        return True
    timed_out = [e for e in errors if (e.get("extensions") or {}).get("code") == "plugin.timeout"]
    if timed_out:
        suite._add(
            "graphql.timeout",
            where,
            f"called as {who}: the resolver ran past the platform's deadline ({timed_out[0].get('message', '')[:160]})",
        )
        return True
    internal = [e for e in errors if (e.get("extensions") or {}).get("code") == "internal"]
    if internal:
        error_id = (internal[0].get("extensions") or {}).get("errorId", "?")
        suite._add(
            "graphql.crashed",
            where,
            f"called as {who}: the resolver raised an unhandled exception (error id {error_id}: see the output)",
        )
        return True
    return False


# -- hooks -----------------------------------------------------------------------------------------


def _hooks(suite: ContractSuite, code: str) -> None:
    pm = suite.kernel.plugins.host.pm
    plugin = pm.get_plugin(suite.name)
    implemented = sorted({caller.name for caller in pm.get_hookcallers(plugin) or []})
    for hook in implemented:
        if hook == "nentang_event_received":
            _deliver_every_type(suite, code)
        elif hook not in _CALLED_ELSEWHERE:
            _call(suite, hook, code)


def _call(suite: ContractSuite, hook: str, code: str) -> None:
    """Call ``hook`` once more, directly, in a transaction rolled back afterwards (the lifecycle's
    calls went through the activation service; a hook it never reaches is called here only)."""
    from sqlalchemy.exc import SQLAlchemyError

    from nentang.kernel.plugins.context import tenant_ref
    from nentang.sdk.errors import NentangError

    kernel = suite.kernel
    tenant = tenant_ref(kernel.tenants.get(code))
    spec = getattr(kernel.plugins.host.pm.hook, hook).spec
    names = [n for n in inspect.signature(spec.function).parameters if n != "ctx"] if spec else []
    settings = kernel.plugins.dispatcher.activations.get(tenant.id).settings.get(suite.name, {})
    values = {name: _hook_argument(name, tenant.id, settings) for name in names}
    try:
        with _transaction(suite, tenant.id) as session:
            kernel.plugins.dispatcher.call_one(
                suite.name, hook, tenant, actor="system:review", session=session, plugin_settings=settings, **values
            )
    except (NentangError, SQLAlchemyError):
        pass  # a refusal the hook may make; a row its first call wrote already
    except Exception as exc:
        suite._limit_or(exc, "contract.hook_failed", f"hook {hook}@{code}")


@contextmanager
def _transaction(suite: ContractSuite, tenant_id: int) -> Iterator[Any]:
    with suite.kernel.db.tenant(tenant_id) as session:
        transaction = session.begin()
        try:
            yield session
        finally:
            transaction.rollback()


def _hook_argument(name: str, tenant_id: int, settings: Any) -> Any:
    from nentang.sdk.events import Event

    if name == "settings":
        return settings
    if name == "event":
        return Event(id=1, type="review.ping", tenant_id=tenant_id, payload={}, actor="system:review")
    return None


def _deliver_every_type(suite: ContractSuite, code: str) -> None:
    """Emit, at ``code``, one event of each type the outbox has seen (with that type's last payload),
    and deliver them: a handler that acts only on its own event types is reached too."""
    import json

    from sqlalchemy import select

    from nentang.kernel.events.models import OutboxEvent
    from nentang.kernel.events.outbox import emit

    kernel, tenant_id = suite.kernel, suite.tenant_ids[code]
    with kernel.db.platform() as session:
        rows = session.execute(select(OutboxEvent.type, OutboxEvent.payload).order_by(OutboxEvent.id)).all()
    # the canary tenants' payloads stay there: a copy here would look like the plugin's leak
    kinds = {kind: "{}" if suite.canary in payload else payload for kind, payload in rows}
    kinds.setdefault("review.ping", "{}")
    with kernel.db.tenant(tenant_id) as session, session.begin():
        for kind, payload in sorted(kinds.items()):
            emit(session, tenant_id=tenant_id, event_type=kind, payload=json.loads(payload), actor="system:review")
    try:
        while kernel.events.deliver_batch() > 0:
            pass
    except Exception as exc:
        suite._limit_or(exc, "contract.hook_failed", f"events@{code}")
