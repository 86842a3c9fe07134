"""How long a plugin's call may run, how many may run at once, and the worker's memory ceiling.

The operator sets these, never the plugin: a deadline a plugin could declare in its own manifest
would be the deadline its author chose, hostile or not. Variables (``docs/operations.md``):

- ``NENTANG_PLUGIN_DEADLINE`` — seconds any plugin call (hook, GraphQL resolver, ``run`` work)
  may take before the watchdog stops it (default 10);
- ``NENTANG_PLUGIN_DEADLINES`` — per-plugin exceptions, ``name=seconds`` separated by commas
  (``reports=60,forms=2``);
- ``NENTANG_PLUGIN_THREADS`` — the worker's threads for plugin resolvers, apart from the kernel's
  own thread pool (default 16);
- ``NENTANG_PLUGIN_CONCURRENCY`` — resolver calls of one plugin running at once in a worker
  (default 4, at most the thread count): a plugin that hangs in every request holds that many
  threads, never all of them;
- ``NENTANG_WORKER_MEMORY_MB`` — the address-space ceiling of each worker process (unset: none).

Every value is checked at start-up; a bad one stops the server with the variable's name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, final

from nentang.sdk.errors import ValidationFailed

DEFAULT_DEADLINE: Final = 10.0
#: Longer than any request should ever last; a larger value is surely a typo (milliseconds?).
MAX_DEADLINE: Final = 3600.0
DEFAULT_THREADS: Final = 16
MAX_THREADS: Final = 1024
DEFAULT_CONCURRENCY: Final = 4
#: Below this a worker cannot even import its libraries: the ceiling would only crash it.
MIN_WORKER_MEMORY_MB: Final = 256
_PLUGIN_NAME = re.compile(r"[a-z][a-z0-9_]*")


@final
@dataclass(frozen=True, slots=True)
class PluginCallLimits:
    deadline: float = DEFAULT_DEADLINE
    #: Plugin name → its own deadline, instead of :attr:`deadline`.
    deadlines: Mapping[str, float] = field(default_factory=dict)
    threads: int = DEFAULT_THREADS
    concurrency: int = DEFAULT_CONCURRENCY
    #: Ceiling of each worker's address space in MiB (``None``: no ceiling).
    worker_memory_mb: int | None = None

    def __post_init__(self) -> None:
        _check_deadline("NENTANG_PLUGIN_DEADLINE", self.deadline)
        for plugin, seconds in self.deadlines.items():
            if not _PLUGIN_NAME.fullmatch(plugin):
                raise ValidationFailed(f"NENTANG_PLUGIN_DEADLINES: {plugin!r} is not a plugin name")
            _check_deadline(f"NENTANG_PLUGIN_DEADLINES ({plugin})", seconds)
        if not 1 <= self.threads <= MAX_THREADS:
            raise ValidationFailed(f"NENTANG_PLUGIN_THREADS must be from 1 to {MAX_THREADS}, not {self.threads}")
        if not 1 <= self.concurrency <= self.threads:
            raise ValidationFailed(
                f"NENTANG_PLUGIN_CONCURRENCY must be from 1 to NENTANG_PLUGIN_THREADS ({self.threads}), "
                f"not {self.concurrency}"
            )
        if self.worker_memory_mb is not None and self.worker_memory_mb < MIN_WORKER_MEMORY_MB:
            raise ValidationFailed(
                f"NENTANG_WORKER_MEMORY_MB must be at least {MIN_WORKER_MEMORY_MB}, not {self.worker_memory_mb}"
            )

    def deadline_of(self, plugin: str) -> float:
        return self.deadlines.get(plugin, self.deadline)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PluginCallLimits:
        memory = environ.get("NENTANG_WORKER_MEMORY_MB", "").strip()
        return cls(
            deadline=_seconds("NENTANG_PLUGIN_DEADLINE", environ.get("NENTANG_PLUGIN_DEADLINE", str(DEFAULT_DEADLINE))),
            deadlines=parse_deadlines(environ.get("NENTANG_PLUGIN_DEADLINES", "")),
            threads=_integer("NENTANG_PLUGIN_THREADS", environ.get("NENTANG_PLUGIN_THREADS", str(DEFAULT_THREADS))),
            concurrency=_integer(
                "NENTANG_PLUGIN_CONCURRENCY", environ.get("NENTANG_PLUGIN_CONCURRENCY", str(DEFAULT_CONCURRENCY))
            ),
            worker_memory_mb=_integer("NENTANG_WORKER_MEMORY_MB", memory) if memory else None,
        )


def parse_deadlines(text: str) -> dict[str, float]:
    """``"reports=60, forms=2"`` → ``{"reports": 60.0, "forms": 2.0}``; each plugin named once."""
    deadlines: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = item.partition("=")
        name = name.strip()
        if not equals or not name:
            raise ValidationFailed(f"NENTANG_PLUGIN_DEADLINES: write name=seconds, not {item!r}")
        if name in deadlines:
            raise ValidationFailed(f"NENTANG_PLUGIN_DEADLINES names {name!r} twice")
        deadlines[name] = _seconds(f"NENTANG_PLUGIN_DEADLINES ({name})", value)
    return deadlines


def _seconds(variable: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValidationFailed(f"{variable} must be a number of seconds, not {text!r}") from None
    _check_deadline(variable, value)
    return value


def _check_deadline(variable: str, value: float) -> None:
    if not 0 < value <= MAX_DEADLINE:  # also refuses nan
        raise ValidationFailed(f"{variable} must be more than 0 and at most {MAX_DEADLINE:g} seconds, not {value!r}")


def _integer(variable: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValidationFailed(f"{variable} must be a whole number, not {text!r}") from None


def apply_worker_memory_ceiling(megabytes: int | None) -> None:
    """Cap this process's address space (``RLIMIT_AS``) at ``megabytes`` MiB; ``None`` leaves it.

    Past the ceiling an allocation fails with ``MemoryError`` in the code that asked for it (a
    request's, usually a runaway plugin's), instead of the host's out-of-memory killer taking a
    worker — or a neighbour — at random. It counts address space, not resident memory: thread
    stacks and the allocator's per-thread arenas reserve address space they may never touch, so
    leave room (docs/operations.md). A hard limit already lower than asked is kept.
    """
    if megabytes is None:
        return
    import resource  # POSIX only: imported where it is used

    wanted = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
