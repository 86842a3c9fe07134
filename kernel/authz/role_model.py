"""The role → permission model, decided by casbin.

It holds one policy line per (role, permission) — thousands, not millions — so every worker
keeps it in memory. Decisions are memoised per (role, permission) until that role changes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Final, final

import casbin
from sqlalchemy import Engine, select

from nentang.kernel.authz.models import RolePermission

_MODEL_TEXT: Final = """
[request_definition]
r = sub, obj

[policy_definition]
p = sub, obj

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.obj == p.obj
"""


def _subject(role_id: int) -> str:
    return f"role:{role_id}"


@final
class RoleModel:
    def __init__(self) -> None:
        self._enforcer = casbin.Enforcer(_model())
        self._decisions: dict[tuple[int, str], bool] = {}
        self._lock = threading.Lock()

    def load(self, engine: Engine) -> int:
        """Replace the whole model with what the database holds; returns the number of lines."""
        with engine.connect() as connection:
            rows = connection.execute(select(RolePermission.role_id, RolePermission.permission)).all()
        with self._lock:
            self._enforcer.clear_policy()
            if rows:
                self._enforcer.add_policies([[_subject(role_id), perm] for role_id, perm in rows])
            self._decisions = {}
        return len(rows)

    def reload_role(self, engine: Engine, role_id: int) -> None:
        with engine.connect() as connection:
            perms = connection.scalars(select(RolePermission.permission).where(RolePermission.role_id == role_id)).all()
        self.replace_role(role_id, perms)

    def replace_role(self, role_id: int, permissions: Iterable[str]) -> None:
        subject = _subject(role_id)
        with self._lock:
            self._enforcer.remove_filtered_policy(0, subject)
            lines = [[subject, perm] for perm in permissions]
            if lines:
                self._enforcer.add_policies(lines)
            self._decisions = {k: v for k, v in self._decisions.items() if k[0] != role_id}

    def allows(self, role_id: int, permission: str) -> bool:
        key = (role_id, permission)
        decision = self._decisions.get(key)
        if decision is None:
            decision = bool(self._enforcer.enforce(_subject(role_id), permission))
            self._decisions[key] = decision
        return decision

    def policy_lines(self) -> int:
        return len(self._enforcer.get_policy())


def _model() -> casbin.model.Model:
    model = casbin.model.Model()
    model.load_model_from_text(_MODEL_TEXT)
    return model
