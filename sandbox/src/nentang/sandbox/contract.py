"""The contract suite: what every plugin must do, checked on a real kernel inside the sandbox.

Runs in the sandboxed process (see :mod:`nentang.sandbox.runner`) against a throwaway SQLite
database in the scratch folder, with tenants at three levels — ``TW`` (central) → ``01``
(province) → ``00001`` (commune) — where the plugin is exercised, and a second branch ``02`` →
``00002`` that holds *canary* rows: rows of the plugin's own tables, an audit entry and an
event, each carrying a random marker. Checks (each finding's code):

- ``contract.migration_failed`` / ``contract.quarantined`` — the plugin's migrations run and the
  kernel loads it (manifest, import, hook validation);
- ``contract.table_*`` — every table the plugin's migrations create is named ``<plugin>_…``, has
  ``tenant_id`` first in its primary key with a foreign key to the tenant table, is passed to
  ``enable_tenant_isolation`` in its migration; every mapped class is a ``TenantOwned``;
- ``contract.enable_failed`` / ``disable_failed`` / ``reenable_failed`` — enable → disable →
  enable succeeds at each level the manifest allows, with settings built from its schema;
- ``contract.data_lost`` — rows present before disabling are still there after re-enabling;
- ``contract.hook_while_disabled`` — no hook runs for a tenant where the plugin is not enabled;
- ``contract.hook_failed`` — a hook raised during event delivery;
- ``contract.isolation`` — a canary turned up anywhere outside the canary tenants (the plugin read
  another tenant's rows); ``contract.isolation_tampered`` — the canary rows changed;
- ``contract.secret_leak`` — the secret placed in the sandbox's environment turned up in the data;
- ``contract.settings_example`` — no settings valid for the schema could be built to enable it;
- ``graphql.*`` / ``contract.hook_failed`` — see :mod:`nentang.sandbox.exercise`: every GraphQL
  field the plugin contributes and every hook it implements is called under the trace.

Resource exhaustion inside a hook (``MemoryError``, ``RecursionError``) is reported as
``limits.memory`` / ``limits.recursion``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nentang.sandbox import exercise
from nentang.sandbox.findings import ReviewFinding
from nentang.sandbox.trace import Tracer
from nentang.sandbox.values import example_settings, row, subclasses

SUBJECTS = (("TW", "central"), ("01", "province"), ("00001", "commune"))
CANARY_TENANTS = ("02", "00002")


class _Stop(Exception):
    """The suite cannot go on (the plugin is not loaded, or a limit was hit)."""


class ContractSuite:
    def __init__(self, job: dict[str, Any], tracer: Tracer, timings: dict[str, float]) -> None:
        self.job = job
        self.tracer = tracer
        self.timings = timings
        self.name: str = job["plugin"]
        self.package_dir = Path(job["package_dir"])
        self.canary: str = job["canary"]
        self.secret: str = job["secret_canary"]
        self.findings: list[ReviewFinding] = []
        self.calls: list[tuple[str, str | None]] = []
        self.enabled: set[str] = set()
        self.kernel: Any = None

    # -- running -----------------------------------------------------------------------------

    def run(self) -> list[ReviewFinding]:
        try:
            self._run()
        except _Stop:
            pass
        finally:
            if self.kernel is not None:
                self.kernel.close()
        return self.findings

    def _add(self, code: str, location: str, message: str, severity: str = "error") -> None:
        check = code.split(".")[0]
        finding = ReviewFinding(check, code, location, message, "warning" if severity == "warning" else "error")
        if finding not in self.findings:
            self.findings.append(finding)

    @contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        import time

        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - start, 3)

    def _run(self) -> None:
        from nentang.kernel.identity.actor import Actor
        from nentang.kernel.runtime import create_kernel
        from nentang.kernel.settings import Settings

        database = Path(self.job["database"])
        self.url = f"sqlite:///{database}"
        settings = Settings(
            database_url=self.url,
            mode="development",
            log_json=True,
            log_level="WARNING",
            registry_path=Path(self.job["scratch"]) / "registry.toml",
            plugin_path=tuple(self.job["plugin_path"]),
        )
        self.actor = Actor.system("review")
        with self._timed("contract.migrate"):
            self.kernel = create_kernel(settings)
            self.tables = self._migrate(settings)
        with self._timed("contract.load"):
            with self.tracer.entering("import"):
                self.kernel.start()
            self._loaded()
            self._tenants()
            self._record_hooks()
            self._check_tables()
            self._plant_canaries()
        with self._timed("contract.lifecycle"):
            manifest = self.kernel.plugins.host.plugins[self.name].manifest
            settings_example = self._settings_example(manifest.settings_schema)
            for code, level in SUBJECTS:
                if level in manifest.levels:
                    self._lifecycle(code, settings_example)
        with self._timed("contract.exercise"):
            try:
                exercise.run(self)
            except _Stop:
                raise
            except Exception as exc:  # the review could not call everything: it cannot vouch for the rest
                self._limit_or(exc, "contract.exercise_failed", "entry points")
        with self._timed("contract.isolation"):
            self._check_isolation()

    # -- steps ---------------------------------------------------------------------------------

    def _migrate(self, settings: Any) -> set[str]:
        """Apply the kernel's and other plugins' migrations, then the plugin's; return its tables."""
        from alembic import command
        from sqlalchemy import inspect

        from nentang.kernel.data import migrate

        engine = self.kernel.db.owner_engine
        self.tracer.sql_enabled = False
        try:
            locations = migrate.version_locations(settings)
            own = [loc for loc in locations if Path(loc).resolve().is_relative_to(self.package_dir.resolve())]
            self.migration_dirs = [Path(loc) for loc in own]
            before: set[str] | None = None
            if own:
                try:
                    config = migrate.alembic_config(settings, [loc for loc in locations if loc not in own])
                    with engine.begin() as connection:
                        config.attributes["connection"] = connection
                        command.upgrade(config, "heads")
                    before = set(inspect(engine).get_table_names())
                except Exception:  # another installed plugin builds on this one: fall back to names
                    before = None
            self.kernel.upgrade_database()
        except Exception as exc:
            self._add("contract.migration_failed", "migrations", f"{type(exc).__name__}: {exc}"[:500])
            raise _Stop from exc
        finally:
            self.tracer.sql_enabled = True
        after = set(inspect(engine).get_table_names())
        if before is None:
            return {t for t in after if t.startswith(f"{self.name}_")}
        return after - before

    def _loaded(self) -> None:
        host = self.kernel.plugins.host
        if self.name in host.plugins:
            return
        quarantined = host.quarantined.get(self.name)
        if quarantined is None:
            self._add("contract.not_discovered", self.name, "the kernel did not find the plugin after installing it")
        else:
            details = "; ".join(str(f) for f in quarantined.findings)
            self._add("contract.quarantined", self.name, f"{quarantined.reason}{': ' + details if details else ''}")
        raise _Stop

    def _tenants(self) -> None:
        from nentang.kernel.tenancy.models import TenantKind

        create = self.kernel.tenants.create
        self.tenant_ids: dict[str, int] = {}
        plan = [
            ("TW", "Trung ương (review)", TenantKind.CENTRAL, None),
            ("01", "Tỉnh Một (review)", TenantKind.PROVINCE, "TW"),
            ("00001", "Xã Một (review)", TenantKind.COMMUNE, "01"),
            ("02", "Tỉnh Hai (canary)", TenantKind.PROVINCE, "TW"),
            ("00002", "Xã Hai (canary)", TenantKind.COMMUNE, "02"),
        ]
        for code, name, kind, parent in plan:
            self.tenant_ids[code] = create(code=code, name=name, kind=kind, parent_code=parent, actor=self.actor).id

    def _record_hooks(self) -> None:
        """Wrap the plugin's hook functions to record (hook, tenant) of every call and failures."""
        pm = self.kernel.plugins.host.pm
        plugin = pm.get_plugin(self.name)
        for caller in pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin_name == self.name:
                    impl.function = self._recorder(caller.name, impl.function, tuple(impl.argnames))

    def _recorder(self, hook: str, function: Callable[..., Any], argnames: tuple[str, ...]) -> Callable[..., Any]:
        index = argnames.index("ctx") if "ctx" in argnames else None
        suite = self

        def recorded(*args: Any, **kwargs: Any) -> Any:
            ctx = args[index] if index is not None and index < len(args) else kwargs.get("ctx")
            tenant = getattr(getattr(ctx, "tenant", None), "code", None)
            suite.calls.append((hook, tenant))
            if tenant is not None and tenant not in suite.enabled:
                suite._add(
                    "contract.hook_while_disabled",
                    f"{hook}@{tenant}",
                    f"{hook} ran for tenant {tenant}, where the plugin is not enabled",
                )
            try:
                with suite.tracer.entering(f"hook {hook}"):
                    return function(*args, **kwargs)
            except Exception as exc:
                if hook not in {"nentang_plugin_enable", "nentang_plugin_disable"}:
                    suite._limit_or(exc, "contract.hook_failed", f"{hook}@{tenant}")
                raise

        return recorded

    def _check_tables(self) -> None:
        connection = sqlite3.connect(self.job["database"])
        try:
            for table in sorted(self.tables):
                if not table.startswith(f"{self.name}_"):
                    self._add("contract.table_name", table, f"plugin tables are named '{self.name}_<table>'")
                columns = connection.execute(f'PRAGMA table_info("{table}")').fetchall()
                pk = sorted((c[5], c[1]) for c in columns if c[5])
                if not pk or pk[0][1] != "tenant_id":
                    self._add(
                        "contract.table_not_tenant_owned",
                        table,
                        "tenant_id must be the first column of the primary key (derive the model from TenantOwned)",
                    )
                keys = connection.execute(f'PRAGMA foreign_key_list("{table}")').fetchall()
                if not any(k[3] == "tenant_id" and k[2] == "kernel_tenant" for k in keys):
                    self._add(
                        "contract.table_not_tenant_owned", table, "tenant_id needs a foreign key to kernel_tenant"
                    )
        finally:
            connection.close()
        isolated = self._isolated_in_migrations()
        for table in sorted(self.tables - isolated):
            self._add(
                "contract.table_rls_missing",
                table,
                "its migration must call enable_tenant_isolation(op, table): PostgreSQL row-level security",
            )
        from sqlmodel import SQLModel

        from nentang.sdk.tables import TenantOwned

        self._import_submodules()
        for cls in subclasses(SQLModel):
            if getattr(cls, "__table__", None) is None or not cls.__module__.startswith(f"nentang_{self.name}"):
                continue
            if not issubclass(cls, TenantOwned):
                self._add(
                    "contract.table_not_tenant_owned", f"{cls.__module__}.{cls.__name__}", "not a TenantOwned model"
                )

    def _isolated_in_migrations(self) -> set[str]:
        names: set[str] = set()
        for folder in self.migration_dirs:
            for path in folder.rglob("*.py"):
                tree = ast.parse(path.read_bytes())
                for node in ast.walk(tree):
                    if (
                        isinstance(node, ast.Call)
                        and getattr(node.func, "id", getattr(node.func, "attr", "")) == "enable_tenant_isolation"
                        and len(node.args) >= 2
                        and isinstance(node.args[1], ast.Constant)
                    ):
                        names.add(str(node.args[1].value))
        return names

    def _import_submodules(self) -> None:
        package = importlib.import_module(f"nentang_{self.name}")
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".tests" in info.name or ".migrations" in info.name:
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:
                self._add("contract.import_failed", info.name, f"{type(exc).__name__}: {exc}"[:300], "warning")

    def _plant_canaries(self) -> None:
        from nentang.kernel.events.outbox import emit
        from nentang.sdk.tables import TenantOwned

        self.models = [
            cls
            for cls in subclasses(TenantOwned)
            if getattr(cls, "__table__", None) is not None and cls.__table__.name in self.tables
        ]
        db = self.kernel.db
        for code in CANARY_TENANTS:
            tenant_id = self.tenant_ids[code]
            with db.tenant(tenant_id) as session, session.begin():
                self.kernel.audit.append(
                    session,
                    tenant_id=tenant_id,
                    actor=self.actor,
                    action="review.canary",
                    target=self.canary,
                    detail={"canary": self.canary},
                )
                emit(session, tenant_id=tenant_id, event_type="review.canary", payload={"c": self.canary}, actor="x")
            for model in self.models:
                for n in range(2):
                    try:
                        with db.tenant(tenant_id) as session, session.begin():
                            session.add(model(**row(model, f"{self.canary}-{code}-{n}")))
                    except Exception as exc:
                        self._add(
                            "contract.canary_skipped",
                            model.__table__.name,
                            f"could not plant a canary row ({type(exc).__name__}: {exc}"[:300] + ")",
                            "warning",
                        )
                        break
        self.canary_rows = self._rows({self.tenant_ids[c] for c in CANARY_TENANTS})

    def _lifecycle(self, code: str, settings: dict[str, Any] | None) -> None:
        activation = self.kernel.plugins.activation
        where = f"{self.name}@{code}"
        self.enabled.add(code)
        if not self._try(
            "contract.enable_failed",
            where,
            lambda: activation.enable(
                actor=self.actor,
                plugin=self.name,
                tenant_code=code,
                settings=settings,
                with_dependencies=True,
                checked=False,
            ),
        ):
            self.enabled.discard(code)
            return
        self._ping(code)
        before = self._rows({self.tenant_ids[code]})
        ok = self._try(
            "contract.disable_failed",
            where,
            lambda: activation.disable(actor=self.actor, plugin=self.name, tenant_code=code, checked=False),
        )
        if not ok:
            return
        self.enabled.discard(code)
        self._ping(code)
        self.enabled.add(code)
        if not self._try(
            "contract.reenable_failed",
            where,
            lambda: activation.enable(
                actor=self.actor,
                plugin=self.name,
                tenant_code=code,
                settings=settings,
                with_dependencies=True,
                checked=False,
            ),
        ):
            self.enabled.discard(code)
            return
        after = self._rows({self.tenant_ids[code]})
        for table, rows in before.items():
            lost = rows - after.get(table, set())
            if lost:
                self._add(
                    "contract.data_lost",
                    f"{table}@{code}",
                    f"{len(lost)} row(s) present before disabling are gone after re-enabling; disabling keeps data",
                )
        self._ping(code)

    def _ping(self, code: str) -> None:
        """An event at the subject and at the canary tenants, delivered at once."""
        from nentang.kernel.events.outbox import emit

        for target in (code, *CANARY_TENANTS):
            tenant_id = self.tenant_ids[target]
            with self.kernel.db.tenant(tenant_id) as session, session.begin():
                emit(session, tenant_id=tenant_id, event_type="review.ping", payload={"at": target}, actor="x")
        try:
            while self.kernel.events.deliver_batch() > 0:
                pass
        except Exception as exc:
            self._limit_or(exc, "contract.hook_failed", f"events@{code}")

    def _try(self, code: str, where: str, action: Callable[[], Any]) -> bool:
        try:
            action()
        except Exception as exc:
            self._limit_or(exc, code, where)
            return False
        return True

    def _limit_or(self, exc: BaseException, code: str, where: str) -> None:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, MemoryError):
                self._add("limits.memory", where, "the plugin ran out of memory under the sandbox's limit")
                raise _Stop from exc
            if isinstance(cause, RecursionError):
                self._add("limits.recursion", where, "the plugin recursed without bound")
                raise _Stop from exc
            cause = cause.__cause__ or cause.__context__
        self._add(code, where, f"{type(exc).__name__}: {exc}"[:500])

    def _settings_example(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        from jsonschema import Draft202012Validator

        example = example_settings(schema)
        if not isinstance(example, dict):
            example = {}
        errors = list(Draft202012Validator(schema).iter_errors(example))
        if errors:
            self._add(
                "contract.settings_example",
                "settings_schema",
                f"no valid settings could be built from the schema (give 'default' or 'examples'): {errors[0].message}",
            )
            return None
        return example

    # -- isolation -----------------------------------------------------------------------------

    def _rows(self, tenants: set[int]) -> dict[str, set[tuple[Any, ...]]]:
        connection = sqlite3.connect(self.job["database"])
        try:
            out: dict[str, set[tuple[Any, ...]]] = {}
            marks = ",".join("?" * len(tenants))
            for table in sorted(self.tables):
                try:
                    rows = connection.execute(f'SELECT * FROM "{table}" WHERE tenant_id IN ({marks})', sorted(tenants))
                except sqlite3.OperationalError:
                    continue  # no tenant_id: reported by the table checks
                out[table] = {tuple(r) for r in rows}
            return out
        finally:
            connection.close()

    def _check_isolation(self) -> None:
        canary_ids = {self.tenant_ids[c] for c in CANARY_TENANTS}
        if self._rows(canary_ids) != self.canary_rows:
            self._add(
                "contract.isolation_tampered",
                ",".join(CANARY_TENANTS),
                "rows of the canary tenants changed while the plugin ran elsewhere",
            )
        connection = sqlite3.connect(self.job["database"])
        try:
            tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                cursor = connection.execute(f'SELECT * FROM "{table}"')
                columns = [d[0] for d in cursor.description]
                for row in cursor:
                    values = dict(zip(columns, row, strict=True))
                    text = " ".join(str(v) for v in row if isinstance(v, str | bytes))
                    if self.secret in text:
                        self._add(
                            "contract.secret_leak",
                            f"{table}@tenant {values.get('tenant_id')}",
                            "a secret of the platform's environment was written to the database",
                        )
                    if self.canary in text and values.get("tenant_id") not in canary_ids:
                        self._add(
                            "contract.isolation",
                            f"{table}@tenant {values.get('tenant_id')}",
                            "data of another tenant (a canary planted in tenant 02/00002) was copied here: "
                            "the plugin read rows outside its tenant",
                        )
        finally:
            connection.close()
