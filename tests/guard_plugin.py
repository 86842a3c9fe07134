"""The hostile runtime corpus: one plugin, ``probe``, whose code tries each way around the runtime guard.

``probe`` owns ``testnotes_note`` (it imports the fixture's ``Note``, which no other plugin owns),
so a test can tell "refused because the table is not the plugin's" from "refused because another
tenant's rows are not the session's". Each attack is a function of the plugin's context, reached
from a hook (``nentang_event_received``, the attack named by the event's payload) and from a GraphQL
query and mutation (``probe_attack(name)``). The review is skipped (development mode), as in the
outside review that found these paths.
"""

from __future__ import annotations

from typing import Final

#: Attacks that must be refused with the runtime guard's ScopeViolation, and the words of the refusal
#: (either of a pair: SQLite reflects through driver SQL, PostgreSQL through its catalog's tables).
REFUSED: Final = {
    "table_column": "table kernel_user",
    "sql_table_column": "table kernel_user",
    "handbuilt_table": "table kernel_user",
    "reflect": ("string", "another schema"),
    "inspect": ("string", "another schema"),
    "text_on_connection": "text()",
    "text_on_session": "text()",
    "bind_connect": "table kernel_user",
    "driver_sql": "string",
    "set_config": "SQL function set_config()",
    "set_config_in_package": "SQL function set_config()",
    "current_setting": "SQL function current_setting()",
    "pg_function": "SQL function pg_read_file()",
    "load_extension": "SQL function load_extension()",
    "literal_column": "literal column",
    "custom_operator": "custom operator",
    "prefix": "prefixes",
    "other_plugin_table": "table feedback_item",
    "other_plugin_class": "table feedback_item",
    "insert_kernel_event": "table kernel_event",
    "insert_kernel_grant": "table kernel_grant",
    "join_kernel_table": "table kernel_user",
    "subquery": "table kernel_user",
    "alias": "table kernel_user",
    "union": "table kernel_user",
    "cte": "table kernel_user",
    "exists": "table kernel_user",
    "update_other_plugin": "table noticeboard_notice",
    "delete_other_plugin": "table noticeboard_notice",
    "other_schema": "another schema",
    "orm_flush_kernel_row": "change to table kernel_grant",
    "ddl": "CreateTable",
}
#: Attacks on the kernel behind the context: each must find nothing (an AttributeError, named).
UNREACHABLE: Final = ("ctx_authz", "ctx_audit", "ctx_db", "ctx_private_session", "request_ctx", "info_context_kernel")

PROBE_CODE = '''
import strawberry
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, String, Table, column, delete, func, insert, select, table, text
from sqlalchemy import update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import column as sql_column, table as sql_table

from nentang.sdk import GraphQLContribution, graphql_request, hookimpl
from tests.fixtures.notes_plugin.models import Note

RESULTS = []
SNEAKED = []
USERS = table("kernel_user", column("id"), column("username"), column("password_hash"))


class Base(DeclarativeBase):
    metadata = MetaData()


class Grant(Base):  # the kernel's grant table, described by a class of the plugin's own
    __tablename__ = "kernel_grant"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String)
    role_id: Mapped[int] = mapped_column(Integer)
    tenant_id: Mapped[int] = mapped_column(Integer)


def _rows(ctx, statement):
    return ctx.session.execute(statement).all()


def table_column(ctx):
    return _rows(ctx, select(table("kernel_user", column("password_hash"))))


def sql_table_column(ctx):
    return _rows(ctx, select(sql_table("kernel_user", sql_column("password_hash"))))


def handbuilt_table(ctx):
    users = Table("kernel_user", MetaData(), Column("id", Integer, primary_key=True), Column("password_hash", String))
    return _rows(ctx, select(users.c.password_hash))


def reflect(ctx):
    meta = MetaData()
    meta.reflect(bind=ctx.session.connection())
    return sorted(meta.tables)


def inspect(ctx):
    return sqlalchemy.inspect(ctx.session.connection()).get_table_names()


def text_on_connection(ctx):
    return ctx.session.connection().execute(text("SELECT password_hash FROM kernel_user")).all()


def text_on_session(ctx):
    return ctx.session.execute(text("SELECT password_hash FROM kernel_user")).all()


def bind_connect(ctx):
    bind = ctx.session.get_bind()
    engine = getattr(bind, "engine", bind)
    with engine.connect() as connection:
        return connection.execute(select(USERS.c.password_hash)).all()


def driver_sql(ctx):
    return ctx.session.connection().exec_driver_sql("SELECT password_hash FROM kernel_user").all()


def set_config(ctx):
    return _rows(ctx, select(func.set_config("nentang.read_tenants", "1,2,3,4,5,6,7,8,9", True)))


def set_config_in_package(ctx):
    return _rows(ctx, select(func.pg_catalog.set_config("nentang.write_tenant", "2", True)))


def current_setting(ctx):
    return _rows(ctx, select(func.current_setting("nentang.read_tenants")))


def pg_function(ctx):
    return _rows(ctx, select(func.pg_read_file("/etc/passwd")))


def load_extension(ctx):
    return _rows(ctx, select(func.load_extension("/tmp/evil.so")))


def literal_column(ctx):
    return _rows(ctx, select(sqlalchemy.literal_column("(SELECT password_hash FROM kernel_user LIMIT 1)")))


def custom_operator(ctx):
    sneaky = Note.body.op("|| (SELECT password_hash FROM kernel_user LIMIT 1) ||")(Note.body)
    return _rows(ctx, select(Note.id).where(sneaky.is_not(None)))


def prefix(ctx):
    return _rows(ctx, select(Note.id).prefix_with("/* */"))


def other_plugin_table(ctx):
    return _rows(ctx, select(table("feedback_item", column("text"))))


def other_plugin_class(ctx):
    from nentang_feedback.models import FeedbackRecord

    return _rows(ctx, select(FeedbackRecord.text))


def insert_kernel_event(ctx):
    events = table("kernel_event", column("tenant_id"), column("type"), column("payload"), column("actor"))
    ctx.session.execute(insert(events).values(tenant_id=ctx.tenant.id, type="x.y", payload="{}", actor="user:x"))


def insert_kernel_grant(ctx):
    grants = table("kernel_grant", column("principal"), column("role_id"), column("tenant_id"))
    ctx.session.execute(insert(grants).values(principal="user:probe", role_id=1, tenant_id=ctx.tenant.id))


def join_kernel_table(ctx):
    return _rows(ctx, select(Note.body, USERS.c.password_hash).join(USERS, USERS.c.id == Note.id))


def subquery(ctx):
    inner = select(USERS.c.password_hash).subquery()
    return _rows(ctx, select(inner.c.password_hash))


def alias(ctx):
    hidden = USERS.alias("n")
    return _rows(ctx, select(hidden.c.password_hash))


def union(ctx):
    return _rows(ctx, sqlalchemy.union(select(Note.body), select(USERS.c.password_hash)))


def cte(ctx):
    found = select(USERS.c.password_hash).cte("found")
    return _rows(ctx, select(found.c.password_hash))


def exists(ctx):
    return _rows(ctx, select(Note.id).where(sqlalchemy.exists(select(USERS.c.id).where(USERS.c.username == "admin"))))


def update_other_plugin(ctx):
    notices = table("noticeboard_notice", column("title"))
    ctx.session.execute(update(notices).values(title="defaced"))


def delete_other_plugin(ctx):
    ctx.session.execute(delete(table("noticeboard_notice")))


def other_schema(ctx):
    return _rows(ctx, select(table("testnotes_note", column("body"), schema="main")))


def orm_flush_kernel_row(ctx):
    ctx.session.add(Grant(id=999, principal="user:probe", role_id=1, tenant_id=ctx.tenant.id))


def ddl(ctx):
    ctx.session.connection().execute(sqlalchemy.schema.CreateTable(Table("probe_x", MetaData(), Column("id", Integer))))


def rescope(ctx):
    """Rewrite every key of session.info (and the PostgreSQL settings' bookkeeping) to reach the
    other tenants, then read and write the plugin's own table."""
    from nentang.kernel.data.scope import DataScope

    others = frozenset(range(1, 50))
    wide = DataScope(read=others, write=max(others), label="everything")
    for key in ("nentang.scope", *list(ctx.session.info)):
        ctx.session.info[key] = wide
    ctx.session.info["nentang.after_transaction"] = [lambda: SNEAKED.append("ran as the kernel")]
    connection = ctx.session.connection()
    for key in ("nentang.pg_scope_wanted", "nentang.pg_scope_sent", *list(connection.info)):
        connection.info[key] = (",".join(str(t) for t in sorted(others)), str(max(others)))
    return sorted(body for body in ctx.session.scalars(select(Note.body)))


def ctx_authz(ctx):
    return ctx._authz


def ctx_audit(ctx):
    return ctx._audit


def ctx_db(ctx):
    return ctx._db


def ctx_private_session(ctx):
    return ctx._session


def own_rows(ctx):
    return sorted(body for body in ctx.session.scalars(select(Note.body)))


def own_functions(ctx):
    """What a plugin may do with its own table: aggregates, string functions, get, add."""
    counted = ctx.session.execute(
        select(func.count(), func.max(func.length(Note.body)), func.coalesce(func.min(func.lower(Note.body)), ""))
    ).one()
    found = ctx.session.get(Note, (ctx.tenant.id, 1))
    ctx.session.add(Note(id=5, body="added"))
    return (tuple(counted), found.body, sorted(ctx.session.scalars(select(Note.body))))


def add_then_fail(ctx):
    """Leave a kernel row pending and raise: the caller may commit anyway."""
    ctx.session.add(Grant(id=998, principal="user:probe", role_id=1, tenant_id=ctx.tenant.id))
    raise RuntimeError("the probe fails on purpose")


ATTACKS = {name: value for name, value in list(globals().items()) if callable(value) and not name.startswith("_")}


def run(ctx, name, target=None):
    if name == "rescope_write":  # re-scoped, then write a row for ``target``, another tenant
        rescope(ctx)
        ctx.session.add(Note(id=77, body="smuggled", tenant_id=target))
        ctx.session.flush()
        return "written"
    if name == "rescope_write_own":  # re-scoped, then a row without a tenant: it must be the call's
        rescope(ctx)
        ctx.session.add(Note(id=78, body="mine"))
        ctx.session.flush()
        return "written"
    result = ATTACKS[name](ctx)
    ctx.session.flush()
    return repr(result)


@hookimpl
def nentang_event_received(ctx, event):
    RESULTS.append(run(ctx, event.payload["attack"], event.payload.get("target")))


async def _attack(info: strawberry.Info, name: str, target: int | None = None) -> str:
    request = graphql_request(info)
    if name == "request_ctx":
        return repr(request._ctx)
    if name == "info_context_kernel":
        return repr(info.context.kernel)
    if name == "info_context_private":
        return repr(sorted(n for n in dir(info.context) if not n.startswith("__")))
    return await request.run(lambda ctx: run(ctx, name, target))


@strawberry.type
class ProbeQuery:
    probe_attack: str = strawberry.field(resolver=_attack)


@strawberry.type
class ProbeMutation:
    probe_attack_write: str = strawberry.mutation(resolver=_attack)


@hookimpl
def nentang_graphql_contribute():
    return GraphQLContribution(queries=(ProbeQuery,), mutations=(ProbeMutation,))
'''
