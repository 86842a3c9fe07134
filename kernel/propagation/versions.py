"""Bumping a topic's version inside the transaction that changed shared state.

The bump and the change commit together. On PostgreSQL the same transaction sends a NOTIFY
(delivered only on commit), so listeners hear of it at once; every worker also polls the
versions as a fallback, so a lost notification costs at most one poll interval.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from nentang.kernel.data.database import record_change
from nentang.kernel.propagation.models import ChangeVersion

#: The PostgreSQL channel every worker listens on; payload "topic:version:key" (key may be empty).
CHANNEL = "nentang_changes"
#: NOTIFY payloads must stay under 8000 bytes; keys beyond this fall back to "flush the topic".
MAX_PAYLOAD = 7000


def bump(session: Session, topic: str, key: str | None = None) -> int:
    """Record that ``topic`` changed (optionally only for ``key``); returns the new version.

    On PostgreSQL the NOTIFY rides on the same statement as the increment (one round trip):
    a change of authorisation is on the path of every grant.
    """
    suffix = key or ""
    if len(topic) + len(suffix) + 24 > MAX_PAYLOAD:
        suffix = ""
    statement = (
        update(ChangeVersion)
        .where(ChangeVersion.topic == topic)
        .values(version=ChangeVersion.version + 1)
        .returning(ChangeVersion.version)
    )
    if session.get_bind().dialect.name == "postgresql":
        payload = func.concat(topic, ":", ChangeVersion.version, ":", suffix)
        statement = statement.returning(func.pg_notify(CHANNEL, payload))
    version = session.execute(statement).scalar()
    if version is None:
        session.add(ChangeVersion(topic=topic, version=1))
        session.flush()
        version = 1
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_notify(CHANNEL, f"{topic}:1:{suffix}")))
    record_change(session, (topic, version, key))
    return version


def read_versions(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(ChangeVersion.topic, ChangeVersion.version))
        return {topic: version for topic, version in rows}
