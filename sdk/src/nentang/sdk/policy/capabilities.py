"""Capabilities: what a plugin declares it needs beyond its tenant session, and what each allows.

A capability is a string in the manifest's ``capabilities`` list. The review knows these kinds:

``http:outbound:<host>``
    Outbound HTTP to ``<host>`` (exact name, or ``*.example.vn`` for its subdomains): the plugin may
    import ``httpx``, and connections to that host seen in the behaviour trace are not findings.
``env:<NAME>``
    Reading the one environment variable ``NAME`` (``os.environ["NAME"]``, ``os.getenv("NAME")``).

Anything else is reported as unknown: the review cannot vouch for what it does not understand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, final

#: Modules that open network connections; importing one needs an ``http:outbound`` capability.
HTTP_CLIENT_MODULES: Final = frozenset({"httpx"})
_HOST: Final = re.compile(r"^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$")
_ENV: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@final
@dataclass(frozen=True, slots=True)
class Allowance:
    """What the declared capabilities allow (empty: nothing beyond the tenant session)."""

    http_hosts: frozenset[str] = frozenset()
    env_names: frozenset[str] = frozenset()
    #: Declared strings the review does not understand, each becomes a finding.
    unknown: tuple[str, ...] = ()

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for allowed in self.http_hosts:
            name = allowed.split(":")[0]
            if name.startswith("*.") and host.endswith(name[1:]):
                return True
            if host == name:
                return True
        return False

    def allows_env(self, name: str) -> bool:
        return name in self.env_names

    def allows_module(self, module: str) -> bool:
        return module.split(".")[0] in HTTP_CLIENT_MODULES and bool(self.http_hosts)


def allowance(capabilities: Iterable[str]) -> Allowance:
    hosts: set[str] = set()
    env: set[str] = set()
    unknown: list[str] = []
    for capability in capabilities:
        kind, _, rest = capability.partition(":")
        if kind == "http" and rest.startswith("outbound:") and _HOST.match(rest.removeprefix("outbound:").lower()):
            hosts.add(rest.removeprefix("outbound:").lower())
        elif kind == "env" and _ENV.match(rest):
            env.add(rest)
        else:
            unknown.append(capability)
    return Allowance(http_hosts=frozenset(hosts), env_names=frozenset(env), unknown=tuple(unknown))
