#!/usr/bin/env python3
"""Bounded schemathesis run against ``/graphql`` of the demo platform: no answer may be a 5xx.

The demo's set-up (migrations, the national tree, the ``admin`` user at ``TW``) on a throwaway
SQLite file (or ``--postgres-url``), the feedback example enabled at a commune, and the app served
in-process (ASGI, no sockets). schemathesis reads the schema by introspection and generates
queries and mutations for every root field, each sent twice: anonymously (``X-Tenant`` of that
commune), and with an API token of the demo admin (role ``admin`` at ``TW``). At most
``--examples`` cases per field and identity.

    .venv/bin/python bench/fuzz_graphql.py [--examples 10] [--postgres-url URL] [--seed 0]

It prints the number of fields, requests, answers by status class and 5xx, and exits 1 if any
answer was a 5xx (each printed with the query that caused it). Last line:
``fuzz_graphql: fields= requests= anonymous= authenticated= status_4xx= status_5xx= seconds=``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis.graphql
from graphql import language
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from nentang.kernel.http.app import create_app
from nentang.kernel.identity.actor import Actor
from nentang.kernel.identity.bootstrap import ensure_administrator
from nentang.kernel.observability.logging import configure_logging
from nentang.kernel.runtime import Kernel, create_kernel
from nentang.kernel.settings import Settings
from nentang.kernel.tenancy.seed import CENTRAL_CODE, seed_national_tree

from _support import postgres_unreachable, throwaway_postgres

DEMO_COMMUNE = "00070"


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    by_identity: Counter[str] = field(default_factory=Counter)
    pairs: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def record(self, identity: str, status: int, query: str) -> None:
        self.statuses[status] += 1
        self.by_identity[identity] += 1
        self.pairs[identity, status] += 1
        if status >= 500:
            self.failures.append(f"{identity} {status}: {query}")

    def count(self, low: int) -> int:
        return sum(n for status, n in self.statuses.items() if low <= status < low + 100)


def _json_object(pairs: dict[str, language.ValueNode]) -> language.ObjectValueNode:
    return language.ObjectValueNode(
        fields=tuple(
            language.ObjectFieldNode(name=language.NameNode(value=key), value=value) for key, value in pairs.items()
        )
    )


#: The ``JSON`` scalar (plugin settings, audit details): any JSON value, objects nested a few deep.
JSON_VALUES = st.recursive(
    st.one_of(st.text(max_size=20).map(nodes.String), st.integers().map(nodes.Int), st.booleans().map(nodes.Boolean)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(nodes.List),
        st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), inner, max_size=4).map(
            _json_object
        ),
    ),
    max_leaves=12,
)


def set_up(kernel: Kernel) -> str:
    """What ``nentang demo`` sets up, plus the feedback plugin at a commune; returns the admin's API token."""
    actor = Actor.system("fuzz")
    kernel.upgrade_database()
    seed_national_tree(kernel.db, kernel.tenants, kernel.audit, actor)
    ensure_administrator(kernel, actor=actor, username="admin", tenant_code=CENTRAL_CODE)
    kernel.start()
    if "feedback" in kernel.plugins.host.plugins:  # a plugin's fields in the schema, enabled somewhere
        kernel.plugins.activation.enable(actor=actor, plugin="feedback", tenant_code=DEMO_COMMUNE, checked=False)
    token = kernel.tokens.create_as_operator(
        actor, tenant_code=CENTRAL_CODE, name="fuzz", roles=["admin"], expires_in_days=1
    )
    return token.plaintext


def fuzz(app: Any, token: str, examples: int, seed: int) -> tuple[int, Tally]:
    schemathesis.graphql.scalar("JSON", JSON_VALUES)
    schema = schemathesis.graphql.from_asgi("/graphql", app, headers={"authorization": f"Bearer {token}"})
    # anonymous callers name their tenant (X-Tenant): the commune where the plugin is enabled
    identities = {"anonymous": {"x-tenant": DEMO_COMMUNE}, "authenticated": {"authorization": f"Bearer {token}"}}
    tally = Tally()
    fields = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        fields += 1
        for identity, headers in identities.items():
            _fuzz_operation(operation, identity, headers, tally, examples, seed)
    return fields, tally


def _fuzz_operation(
    operation: Any, identity: str, headers: dict[str, str], tally: Tally, examples: int, seed: int
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed == 0,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        tally.record(identity, response.status_code, str(case.body))

    (hypothesis.seed(seed)(run) if seed else run)()


@contextmanager
def database(postgres_url: str | None) -> Iterator[str]:
    if not postgres_url:
        with tempfile.TemporaryDirectory(prefix="nentang-fuzz-") as folder:
            yield f"sqlite:///{Path(folder) / 'fuzz.db'}"
        return
    reason = postgres_unreachable(postgres_url)
    if reason:
        raise SystemExit(f"fuzz_graphql: PostgreSQL at {postgres_url} is not usable: {reason}")
    with throwaway_postgres(postgres_url) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10, help="cases per root field and identity (default 10)")
    parser.add_argument("--postgres-url", help="fuzz a throwaway database next to this PostgreSQL URL")
    parser.add_argument(
        "--seed", type=int, default=0, help="0: the same cases every run (derandomized); else the seed of other cases"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.examples <= 10_000:
        parser.error(f"--examples must be from 1 to 10000, not {args.examples}")
    configure_logging(json=True, level="CRITICAL")  # a refused request's log line is not a finding
    started = time.perf_counter()
    with database(args.postgres_url) as url:
        kernel = create_kernel(Settings(database_url=url, mode="development"))
        try:
            token = set_up(kernel)
            fields, tally = fuzz(create_app(kernel), token, args.examples, args.seed)
        finally:
            kernel.close()
    seconds = time.perf_counter() - started
    requests = sum(tally.statuses.values())
    print(f"root fields: {fields}; cases per field and identity: at most {args.examples}")
    print(
        f"requests: {requests} ({tally.by_identity['anonymous']} anonymous, "
        f"{tally.by_identity['authenticated']} authenticated)"
    )
    for identity in ("anonymous", "authenticated"):
        shown = ", ".join(f"{status}: {n}" for (who, status), n in sorted(tally.pairs.items()) if who == identity)
        print(f"statuses, {identity}: {shown}")
    for failure in tally.failures[:20]:
        print(f"5xx: {failure}")
    print(
        f"fuzz_graphql: fields={fields} requests={requests} anonymous={tally.by_identity['anonymous']} "
        f"authenticated={tally.by_identity['authenticated']} status_4xx={tally.count(400)} "
        f"status_5xx={tally.count(500)} seconds={seconds:.1f}"
    )
    return 1 if tally.count(500) else 0


if __name__ == "__main__":
    sys.exit(main())
