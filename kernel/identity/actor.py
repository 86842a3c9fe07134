"""The actor behind an act, as recorded in the audit log."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Literal, final

ActorKind = Literal["system", "cli", "user", "token"]


@final
@dataclass(frozen=True, slots=True)
class Actor:
    #: What kind of principal acted.
    kind: ActorKind
    #: A stable identifier within the kind (user id, token id, OS user name, component name).
    ident: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.ident}"

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls("system", component)

    @classmethod
    def command_line(cls) -> Actor:
        """The operator running the ``nentang`` command (by OS user name)."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return cls("cli", name)
