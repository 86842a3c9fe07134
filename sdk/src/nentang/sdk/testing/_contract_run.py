"""The contract checks that run the plugin on a kernel: migrations, load, tables, hooks, lifecycle,
GraphQL (see :mod:`nentang.sdk.testing.contract` for the codes).

Steps, each reported whatever the others did: migrate an empty database (first without the plugin's
branch, to learn which tables the branch adds); start a kernel; enable the plugin at tenant A (the
kit's commune, or the first level its manifest allows); write a sample row per table at A and look
for it from B (A's sibling, where the plugin is not enabled); call every tenant-scoped hook at B and
deliver events at A and B; compare the GraphQL fields at A and B; disable, probe A again, re-enable,
and look for the sample rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from nentang.sdk.context import TenantRef
from nentang.sdk.events import Event
from nentang.sdk.manifest import Manifest
from nentang.sdk.tables import TENANT_TABLE, TenantOwned
from nentang.sdk.testing._contract_console import console_paths, console_verdict, implements_pages
from nentang.sdk.testing._contract_setup import loaded, migrate_empty_database
from nentang.sdk.testing._database import create_postgres_database, drop_postgres_database, kit_settings
from nentang.sdk.testing._samples import UntestableModel, sample_row

if TYPE_CHECKING:
    from nentang.sdk.testing._running import RunningKernel
    from nentang.sdk.testing._source import PluginSource
    from nentang.sdk.testing.contract import Collector

ACTOR: Final = "system:contract"
PROBE_EVENT: Final = "contract.probe"
_INTROSPECT: Final = "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }"


def run(
    source: PluginSource,
    manifest: Manifest | None,
    collect: Collector,
    *,
    scratch: Path,
    postgres_url: str | None,
) -> None:
    if manifest is None:
        collect.skip_rest("the manifest is not usable")
        return
    if postgres_url:
        url = create_postgres_database(postgres_url, "nentang_contract")
    else:
        url = f"sqlite:///{scratch / 'contract.db'}"
    try:
        settings = kit_settings(url, scratch)
        tables = migrate_empty_database(source, settings, collect)
        if tables is None:
            collect.skip_rest("the migrations did not apply")
            return
        from nentang.sdk.testing._running import RunningKernel

        running = RunningKernel(settings)
        try:
            if loaded(source, running, collect):
                _Suite(source, manifest, running, tables, collect).run()
        finally:
            running.close()
    finally:
        if postgres_url:
            drop_postgres_database(postgres_url, url)


# -- the checks on a running kernel ------------------------------------------------------------------


class _Suite:
    def __init__(
        self,
        source: PluginSource,
        manifest: Manifest,
        running: RunningKernel,
        tables: set[str],
        collect: Collector,
    ) -> None:
        self.name = source.name
        self.source = source
        self.manifest = manifest
        self.running = running
        self.tables = tables
        self.collect = collect
        tree = running.tree
        levels = manifest.levels
        self.a = next((t for t in (tree.commune, tree.province, tree.central) if t.kind in levels), tree.commune)
        self.b = tree.other_commune if self.a.code != tree.other_commune.code else tree.commune
        self.samples: dict[type, int] = {}

    def run(self) -> None:
        from nentang.sdk.testing.contract import settings_for_contract

        settings = settings_for_contract(self.manifest.settings_schema)
        enabled = False
        if settings is None:
            self.collect.skip("lifecycle", "no valid settings to enable the plugin with (see settings_schema)")
        else:
            enabled = self._step(
                "contract.enable_failed", lambda: self.running.enable(self.name, self.a, settings=settings)
            )
        self._tables()
        self._hooks_silent_at(self.b, "where it was never enabled")
        self._events(enabled)
        fields_at_a = self._graphql_fields(self.a) if enabled else None
        fields_at_b = self._graphql_fields(self.b)
        pages_at_a = console_paths(self.running, self.name, self.a, ACTOR) if enabled else None
        pages_at_b = console_paths(self.running, self.name, self.b, ACTOR)
        self.pages_after_disable: set[str] | None = None
        if enabled:
            self._lifecycle(settings or {}, fields_at_a, fields_at_b)
        else:
            self._graphql_verdict(None, fields_at_b, None)
        implements = implements_pages(self.running, self.name)
        at_a, at_b = (self.a, pages_at_a), (self.b, pages_at_b)
        console_verdict(self.collect, self.name, implements, at_a, at_b, self.pages_after_disable)
        self.collect.done("hooks_silent", f"{len(self._tenant_hooks())} tenant-scoped hook(s) implemented")
        if settings is not None and self.collect.report.result("lifecycle") is None:
            self.collect.done("lifecycle", f"enable → disable → enable at {self.a.code}")

    # -- helpers -------------------------------------------------------------------------------

    def _step(self, code: str, action: Any, check: str = "lifecycle") -> bool:
        try:
            action()
        except Exception as exc:
            self.collect.add(check, code, f"{self.name}@{self.a.code}", f"{type(exc).__name__}: {exc}"[:800])
            return False
        return True

    def _tenant_hooks(self) -> dict[str, tuple[str, ...]]:
        """The tenant-scoped hooks (``ctx`` first) this plugin implements, with their spec arguments."""
        pm = self.running.raw.plugins.host.pm
        found: dict[str, tuple[str, ...]] = {}
        for name, caller in sorted(vars(pm.hook).items()):
            spec = getattr(caller, "spec", None)
            if not name.startswith("nentang_") or spec is None or "ctx" not in spec.argnames:
                continue
            if any(impl.plugin_name == self.name for impl in caller.get_hookimpls()):
                found[name] = tuple(spec.argnames)
        return found

    # -- tables --------------------------------------------------------------------------------

    def _tables(self) -> None:
        from sqlalchemy import inspect, text

        engine = self.running.raw.db.owner_engine
        inspector = inspect(engine)
        for table in sorted(self.tables):
            pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
            if not pk or pk[0] != "tenant_id":
                self.collect.add(
                    "tables",
                    "contract.table_not_tenant_owned",
                    table,
                    f"tenant_id must come first in the primary key (it is {pk}); derive the model from TenantOwned",
                )
            keys = inspector.get_foreign_keys(table)
            if not any(k["constrained_columns"] == ["tenant_id"] and k["referred_table"] == TENANT_TABLE for k in keys):
                self.collect.add(
                    "tables",
                    "contract.table_not_tenant_owned",
                    table,
                    f"tenant_id needs a foreign key to {TENANT_TABLE}.id",
                )
            if engine.dialect.name == "postgresql":
                with engine.connect() as connection:
                    row = connection.execute(
                        text("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = :t"),
                        {"t": table},
                    ).first()
                if row is None or not (row[0] and row[1]):
                    self.collect.add(
                        "tables",
                        "contract.table_rls_missing",
                        table,
                        "row-level security is off: call enable_tenant_isolation(op, table) in the migration",
                    )
        models = self._models()
        for model in models:
            where = f"{model.__module__}.{model.__name__}"
            table_name = model.__table__.name  # type: ignore[attr-defined]
            if not issubclass(model, TenantOwned):
                self.collect.add("tables", "contract.table_not_tenant_owned", where, "not derived from TenantOwned")
                continue
            if table_name not in self.tables:
                self.collect.add(
                    "tables",
                    "contract.table_not_migrated",
                    where,
                    f"its table {table_name!r} is not created by the plugin's migrations",
                )
                continue
            self._isolation(model, where)
        if not self.tables and not models:
            self.collect.done("tables", "the plugin has no tables")
        else:
            self.collect.done("tables", f"{len(self.tables)} table(s), {len(models)} mapped class(es)")

    def _models(self) -> list[type]:
        from sqlmodel import SQLModel

        package = self.source.package
        seen: list[type] = []
        pending: list[type] = list(SQLModel.__subclasses__())
        while pending:
            cls = pending.pop()
            pending.extend(cls.__subclasses__())
            if getattr(cls, "__table__", None) is None or cls in seen:
                continue
            if cls.__module__ == package or cls.__module__.startswith(f"{package}."):
                seen.append(cls)
        return sorted(seen, key=lambda c: (c.__module__, c.__name__))

    def _isolation(self, model: type, where: str) -> None:
        from sqlalchemy import select

        try:
            with self.running.session(self.a) as session:
                session.add(model(**sample_row(model)))
        except UntestableModel as exc:
            self.collect.add("tables", "contract.isolation_untested", where, str(exc), "warning")
            return
        except Exception as exc:
            message = f"no sample row could be written ({type(exc).__name__}: {exc}"[:600] + ")"
            self.collect.add("tables", "contract.isolation_untested", where, message, "warning")
            return
        with self.running.session(self.b) as session:
            seen_at_b = len(session.scalars(select(model)).all())
        with self.running.session(self.a) as session:
            seen_at_a = len(session.scalars(select(model)).all())
        if seen_at_b:
            self.collect.add(
                "tables", "contract.isolation", where, f"a row written at {self.a.code} is seen at {self.b.code}"
            )
        if not seen_at_a:
            self.collect.add(
                "tables", "contract.isolation_untested", where, "the sample row cannot be read back", "warning"
            )
        self.samples[model] = seen_at_a

    def _rows(self) -> dict[type, int]:
        from sqlalchemy import select

        with self.running.session(self.a) as session:
            return {m: len(session.scalars(select(m)).all()) for m in self.samples}

    # -- hooks ---------------------------------------------------------------------------------

    def _hooks_silent_at(self, tenant: TenantRef, why: str) -> None:
        """Call every tenant-scoped hook at ``tenant`` through the dispatcher; none of ours may run."""
        dispatcher = self.running.raw.plugins.dispatcher
        for hook, argnames in self._tenant_hooks().items():
            before = len(self.running.hooks.calls(hook, plugin=self.name, tenant=tenant))
            arguments = {name: _dummy(name, tenant) for name in argnames if name != "ctx"}
            with self.running.raw.db.tenant(tenant.id) as session:
                transaction = session.begin()
                try:
                    dispatcher.call_all(hook, tenant, actor=ACTOR, session=session, **arguments)
                except Exception:  # what matters is whether our implementation ran, recorded below
                    pass
                finally:
                    transaction.rollback()
            if len(self.running.hooks.calls(hook, plugin=self.name, tenant=tenant)) > before:
                self.collect.add(
                    "hooks_silent",
                    "contract.hook_while_disabled",
                    f"{hook}@{tenant.code}",
                    f"{self.name}'s {hook} ran for {tenant.code}, {why}",
                )

    def _events(self, enabled: bool) -> None:
        """Deliver real events at A (enabled) and B (not): the handler runs only at A, and ignores
        event types it does not know instead of raising."""
        hook = "nentang_event_received"
        for tenant in (self.a, self.b):
            self.running.emit(PROBE_EVENT, {"contract": True}, tenant=tenant)
        self.running.deliver_events()
        at_b = self.running.hooks.calls(hook, plugin=self.name, tenant=self.b)
        if at_b:
            self.collect.add(
                "hooks_silent",
                "contract.hook_while_disabled",
                f"{hook}@{self.b.code}",
                f"events of {self.b.code} were delivered to {self.name}, which is not enabled there",
            )
        if enabled:
            for call in self.running.hooks.calls(hook, plugin=self.name, tenant=self.a):
                if call.error is not None:
                    event = call.arguments.get("event")
                    kind = getattr(event, "type", "?")
                    self.collect.add(
                        "hooks_silent",
                        "contract.hook_failed",
                        f"{hook}@{self.a.code}",
                        f"raised on event {kind!r} ({call.error}); ignore event types you do not handle",
                    )

    # -- GraphQL -------------------------------------------------------------------------------

    def _contributes(self) -> bool:
        pm = self.running.raw.plugins.host.pm
        caller = getattr(pm.hook, "nentang_graphql_contribute", None)
        if caller is None:
            return False
        for impl in caller.get_hookimpls():
            if impl.plugin_name == self.name:
                try:
                    contribution = impl.function()
                except Exception:
                    return True  # it means to contribute; the schema build reports why it failed
                parts = (getattr(contribution, n, ()) for n in ("queries", "mutations", "types"))
                return contribution is not None and any(parts)
        return False

    def _graphql_fields(self, tenant: TenantRef) -> set[str] | None:
        """The plugin's top-level fields in the schema served at ``tenant`` (``None``: no GraphQL)."""
        if not self.running.has_graphql:
            return None
        if not hasattr(self, "_admin"):
            self._admin = self.running.make_user("admin", tenant=self.running.tree.central, username="contract-admin")
        result = self.running.graphql(self._admin, tenant)(_INTROSPECT)
        if not result.ok:
            self.collect.add(
                "graphql", "contract.graphql_missing", tenant.code, f"introspection failed: {result}"[:600], "warning"
            )
            return set()
        schema = result.data["__schema"]
        names = {f["name"] for f in schema["queryType"]["fields"]}
        if schema.get("mutationType"):
            names |= {f["name"] for f in schema["mutationType"]["fields"]}
        return {n for n in names if n.startswith(f"{self.name}_")}

    def _graphql_verdict(self, at_a: set[str] | None, at_b: set[str] | None, after_disable: set[str] | None) -> None:
        if at_b is None:
            self.collect.skip("graphql", "GraphQL not available in this kernel (no /graphql endpoint)")
            return
        if at_b:
            self.collect.add(
                "graphql",
                "contract.graphql_leak",
                self.b.code,
                f"fields {sorted(at_b)} exist at {self.b.code}, where the plugin is not enabled",
            )
        if after_disable:
            self.collect.add(
                "graphql",
                "contract.graphql_leak",
                self.a.code,
                f"fields {sorted(after_disable)} still exist at {self.a.code} after disabling",
            )
        contributes = self._contributes()
        if at_a is not None and contributes and not at_a:
            self.collect.add(
                "graphql",
                "contract.graphql_missing",
                self.a.code,
                f"the plugin contributes GraphQL, but no {self.name}_* field is served where it is enabled: "
                f"its contribution was left out (run `nentang graphql schema --plugins {self.name}`)",
            )
        served = f"{len(at_a or ())} field(s) where enabled, none elsewhere" if contributes else "contributes nothing"
        self.collect.done("graphql", served)

    # -- lifecycle -----------------------------------------------------------------------------

    def _lifecycle(self, settings: dict[str, Any], at_a: set[str] | None, at_b: set[str] | None) -> None:
        before = self._rows()
        if not self._step("contract.disable_failed", lambda: self.running.disable(self.name, self.a)):
            self._graphql_verdict(at_a, at_b, None)
            return
        self._hooks_silent_at(self.a, "where it was just disabled")
        after_disable = self._graphql_fields(self.a)
        self.pages_after_disable = console_paths(self.running, self.name, self.a, ACTOR)
        self._graphql_verdict(at_a, at_b, after_disable)
        if not self._step(
            "contract.reenable_failed", lambda: self.running.enable(self.name, self.a, settings=settings)
        ):
            return
        after = self._rows()
        for model, count in before.items():
            if after.get(model, 0) < count:
                self.collect.add(
                    "lifecycle",
                    "contract.data_lost",
                    f"{model.__table__.name}@{self.a.code}",  # type: ignore[attr-defined]
                    f"{count - after.get(model, 0)} row(s) present before disabling are gone after re-enabling; "
                    "disabling keeps the plugin's data",
                )


def _dummy(name: str, tenant: TenantRef) -> Any:
    """A harmless argument for a probe call (the implementation must not run at all)."""
    if name == "event":
        return Event(id=0, type=PROBE_EVENT, tenant_id=tenant.id, payload={}, actor=ACTOR)
    if name == "settings":
        return {}
    return None


__all__ = ["run"]
